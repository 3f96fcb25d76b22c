from .pretrained import load_pretrained_encoder, require_pretrained_file
from .res2net import Res2NetEncoder
from .resnet import ResNetEncoder

__all__ = [
    'ResNetEncoder', 'Res2NetEncoder', 'load_pretrained_encoder',
    'require_pretrained_file'
]
