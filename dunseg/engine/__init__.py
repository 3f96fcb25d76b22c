from .checkpoint import (atomic_torch_save, decode_checkpoint,
                         encode_checkpoint, load_weights_only)
from .hooks import *  # noqa: F401,F403
from .log_processor import DunSegLogProcessor
from .runner import DunSegRunner

__all__ = [
    'DunSegRunner', 'DunSegLogProcessor', 'atomic_torch_save',
    'encode_checkpoint', 'decode_checkpoint', 'load_weights_only'
]
