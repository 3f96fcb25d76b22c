"""Build open_clip CLIP models and their input pipeline, strictly offline.

``build_clip_model`` accepts an open_clip model name (``'ViT-B-32'``,
``'RN50'``, ...) or a config dict of a (tiny) CLIP, and loads weights only
from a local file: dunseg never downloads weights. ``CLIPImagePreprocess``
is OpenAI CLIP's input pipeline (bicubic resize of the short side, centre
crop, OpenAI mean/std) written with differentiable torch ops so that it can
live inside a model and run on batches of (N, 3, H, W) tensors in [0, 1].
"""
import copy
import os.path as osp
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
#: Vocabulary size of open_clip's byte-pair tokenizer (``SimpleTokenizer``);
#: a CLIP config dict must keep it so that the tokenizer's ids fit.
CLIP_VOCAB_SIZE = 49408

_WEIGHT_SUFFIXES = ('.pt', '.pth', '.bin', '.safetensors', '.ckpt')


def _import_open_clip():
    try:
        import open_clip
    except ImportError as err:  # pragma: no cover - depends on the env
        raise ImportError(
            'CLIP prior heads need open_clip: pip install '
            "'open_clip_torch>=2.24,<4' (requirements/clip.txt)"
        ) from err
    return open_clip


def _check_local_weights(pretrained: str, what: str) -> str:
    """Return ``pretrained`` expanded if it is an existing file, else raise."""
    path = osp.expanduser(str(pretrained))
    if osp.isfile(path):
        return path
    looks_like_path = (osp.sep in path or path.endswith(_WEIGHT_SUFFIXES))
    if looks_like_path:
        raise FileNotFoundError(
            f'{what}: weight file {path!r} does not exist; give the path of '
            'a local .pt/.pth/.safetensors file (or None for random init)')
    raise ValueError(
        f'{what}: pretrained={pretrained!r} looks like an open_clip hub tag '
        "(e.g. 'openai', 'laion2b_s34b_b79k'), but dunseg never downloads "
        'weights. Download the file yourself (e.g. open_clip_pytorch_model.'
        'bin / .safetensors of laion/CLIP-ViT-B-32-laion2B-s34B-b79K) and '
        'pass its local path, or pretrained=None for random init.')


def _validate_clip_cfg(cfg: dict) -> dict:
    cfg = copy.deepcopy(dict(cfg))
    missing = {'embed_dim', 'vision_cfg', 'text_cfg'} - set(cfg)
    if missing:
        raise KeyError(f'CLIP config dict lacks {sorted(missing)}; expected '
                       'dict(embed_dim=..., vision_cfg=dict(...), '
                       'text_cfg=dict(...)) as in open_clip model_configs')
    text_cfg = dict(cfg['text_cfg'])
    vocab = text_cfg.get('vocab_size', CLIP_VOCAB_SIZE)
    if vocab != CLIP_VOCAB_SIZE:
        raise ValueError(
            f'text_cfg.vocab_size={vocab}: the CLIP tokenizer produces ids '
            f'up to {CLIP_VOCAB_SIZE - 1}; keep vocab_size={CLIP_VOCAB_SIZE}')
    text_cfg['vocab_size'] = CLIP_VOCAB_SIZE
    cfg['text_cfg'] = text_cfg
    cfg['vision_cfg'] = dict(cfg['vision_cfg'])
    return cfg


def load_clip_weights(model: nn.Module, pretrained: str,
                      strict: bool = True) -> None:
    """Load a local CLIP weight file into an open_clip model.

    Plain state dicts (``.pt``/``.pth``/``.bin`` via ``torch.load`` with
    ``weights_only=True``, or ``.safetensors``) go through
    ``open_clip.load_checkpoint``, which also converts third-party layouts.
    A checkpoint dict with ``state_dict`` is unwrapped by open_clip too.
    """
    open_clip = _import_open_clip()
    path = _check_local_weights(pretrained, 'CLIP weights')
    try:
        open_clip.load_checkpoint(
            model, path, strict=strict, weights_only=True)
    except RuntimeError as err:
        raise RuntimeError(
            f'could not load CLIP weights from {path}: {err}. The file must '
            'be an open_clip state dict of the same architecture (OpenAI '
            'TorchScript archives are not supported: load them with '
            'open_clip once and save model.state_dict()).') from err


def build_clip_model(clip_model: Union[str, dict],
                     pretrained: Optional[str] = None) -> nn.Module:
    """Build an open_clip CLIP, random-init or from a local weight file.

    Args:
        clip_model (str | dict): an open_clip model name (``'ViT-B-32'``,
            ``'RN50'``, ...; see ``open_clip.list_models()``) or a config
            dict ``dict(embed_dim=64, vision_cfg=dict(...),
            text_cfg=dict(...))`` passed to ``open_clip.CLIP`` (tiny CLIPs
            for tests and CPU training; ``text_cfg.vocab_size`` must stay
            49408).
        pretrained (str, optional): path of a LOCAL weight file (.pt, .pth,
            .bin, .safetensors). None keeps the random initialisation. Hub
            tags such as ``'openai'`` or ``'laion2b_s34b_b79k'`` raise a
            ValueError: nothing is ever downloaded.

    Returns:
        nn.Module: the open_clip ``CLIP`` model (on CPU, float32).
    """
    open_clip = _import_open_clip()
    if pretrained is not None:
        _check_local_weights(pretrained, 'build_clip_model')
    if isinstance(clip_model, str):
        if clip_model not in open_clip.list_models():
            raise KeyError(
                f'unknown open_clip model {clip_model!r}; choose one of '
                'open_clip.list_models() (e.g. ViT-B-32) or pass a config '
                'dict for a custom CLIP')
        # pretrained=None: open_clip builds the architecture only (offline).
        model = open_clip.create_model(
            clip_model, pretrained=None, pretrained_image=False,
            pretrained_text=False)
    elif isinstance(clip_model, dict):
        model = open_clip.CLIP(**_validate_clip_cfg(clip_model))
    else:
        raise TypeError('clip_model must be an open_clip model name or a '
                        f'config dict, got {type(clip_model).__name__}')
    if pretrained is not None:
        load_clip_weights(model, pretrained)
    return model


def build_clip_tokenizer(clip_model: Union[str, dict]):
    """The tokenizer matching ``clip_model`` (offline).

    For a model name, ``open_clip.get_tokenizer(name)`` (the BPE vocabulary
    of OpenAI CLIP ships inside open_clip); for a config dict, open_clip's
    ``SimpleTokenizer`` with ``text_cfg['context_length']`` (default 77).
    """
    open_clip = _import_open_clip()
    if isinstance(clip_model, str):
        return open_clip.get_tokenizer(clip_model)
    context_length = dict(clip_model.get('text_cfg', {})).get(
        'context_length', 77)
    return open_clip.SimpleTokenizer(context_length=context_length)


def clip_image_size(model: nn.Module) -> int:
    """Square input size of an open_clip model's vision tower."""
    size = getattr(model.visual, 'image_size', 224)
    if isinstance(size, (tuple, list)):
        size = size[0]
    return int(size)


class CLIPImagePreprocess(nn.Module):
    """OpenAI CLIP's input pipeline as differentiable tensor ops.

    ``Resize(size, bicubic)`` of the short side (aspect kept, long side
    ``int(size * long / short)`` as torchvision computes it) ->
    ``CenterCrop(size)`` -> ``(x - mean) / std``. Images are (N, 3, H, W)
    floats in [0, 1]; the output is (N, 3, size, size). The resize is
    antialiased whether it shrinks or enlarges, as torchvision's ``Resize``
    (``antialias=True``) does in the official pipelines: for enlarging,
    PyTorch's antialiased bicubic uses a different kernel (a = -0.5) from
    the plain one (a = -0.75), so a 128² crop would otherwise reach CLIP up
    to 0.37 off. Grey (N, 1, H, W) images are repeated to three channels.

    Args:
        input_size (int): CLIP input side. Defaults to 224.
        mean, std (sequence of float): normalisation (OpenAI's by default).
    """

    def __init__(self,
                 input_size: int = 224,
                 mean: Sequence[float] = OPENAI_CLIP_MEAN,
                 std: Sequence[float] = OPENAI_CLIP_STD) -> None:
        super().__init__()
        self.input_size = int(input_size)
        self.register_buffer(
            'mean', torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1),
            persistent=False)
        self.register_buffer(
            'std', torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1),
            persistent=False)

    def resized_shape(self, height: int, width: int) -> Tuple[int, int]:
        size = self.input_size
        if height <= width:
            return size, int(size * width / height)
        return int(size * height / width), size

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dim() != 4 or images.shape[1] not in (1, 3):
            raise ValueError('CLIPImagePreprocess expects (N, 3, H, W) '
                             '(or grey (N, 1, H, W)) images in [0, 1], got '
                             f'{tuple(images.shape)}')
        if images.shape[1] == 1:
            # grey infrared frames and medical slices: CLIP sees R = G = B,
            # as CLIPDualPrior repeats them
            images = images.expand(-1, 3, -1, -1)
        size = self.input_size
        height, width = images.shape[-2:]
        new_h, new_w = self.resized_shape(height, width)
        x = images.float()
        if (new_h, new_w) != (height, width):
            x = F.interpolate(
                x, size=(new_h, new_w), mode='bicubic', align_corners=False,
                antialias=True)
        top = int(round((new_h - size) / 2.0))
        left = int(round((new_w - size) / 2.0))
        x = x[..., top:top + size, left:left + size]
        return (x - self.mean) / self.std

    def extra_repr(self) -> str:
        return f'input_size={self.input_size}'


__all__ = [
    'OPENAI_CLIP_MEAN', 'OPENAI_CLIP_STD', 'CLIP_VOCAB_SIZE',
    'build_clip_model', 'build_clip_tokenizer', 'load_clip_weights',
    'clip_image_size', 'CLIPImagePreprocess'
]
