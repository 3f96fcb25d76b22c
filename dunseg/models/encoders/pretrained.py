"""Load ImageNet weights from a local file into an encoder, strictly.

No weights are downloaded at run time (DESIGN.md): the config names a local
file and a missing file is an error that says which file to put there.
"""
import os.path as osp
from typing import Dict, Iterable, Optional, Sequence

import torch
from torch import nn


def _read_state_dict(path: str) -> Dict[str, torch.Tensor]:
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        return load_file(path)
    checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    # Training checkpoints wrap the weights (mmengine: 'state_dict', timm
    # train scripts / DeiT-style: 'model').
    for key in ('state_dict', 'model'):
        if isinstance(checkpoint, dict) and isinstance(
                checkpoint.get(key), dict):
            checkpoint = checkpoint[key]
    if not isinstance(checkpoint, dict):
        raise TypeError(f'{path} holds a {type(checkpoint).__name__}, not a '
                        'state dict')
    return checkpoint


def require_pretrained_file(path: str, owner: str, expected_file: str) -> None:
    """Raise a FileNotFoundError saying which file to put at ``path``."""
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{owner}: pretrained weights file "{path}" does not exist. '
            f'Put {expected_file} at that path (these weights cannot be '
            'downloaded here), or set pretrained=None to start from a random '
            'initialisation.')


def load_pretrained_encoder(module: nn.Module,
                            path: str,
                            owner: str,
                            expected_file: str,
                            drop_prefixes: Sequence[str] = ('fc.', ),
                            strip_prefixes: Iterable[str] = ('module.', ),
                            rename: Optional[Dict[str, str]] = None) -> None:
    """Load the state dict in ``path`` into ``module`` with ``strict=True``.

    Args:
        module (nn.Module): The network whose keys the file must match.
        path (str): Local ``.pth`` / ``.pth.tar`` / ``.bin`` /
            ``.safetensors`` file.
        owner (str): Component name used in error messages.
        expected_file (str): Which file to put at ``path``, for the error
            message when it is missing.
        drop_prefixes: Keys of the classification head that the encoder has
            no module for (ImageNet ``fc.*``).
        strip_prefixes: Wrapper prefixes removed first (DataParallel's
            ``module.``).
        rename (dict, optional): Key prefix renames (``old -> new``), e.g.
            another library's names for the same modules.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        KeyError: the file's keys do not match the encoder's (listing both).
    """
    require_pretrained_file(path, owner, expected_file)
    state = _read_state_dict(path)
    cleaned = {}
    for key, value in state.items():
        for prefix in strip_prefixes:
            if key.startswith(prefix):
                key = key[len(prefix):]
        if any(key.startswith(prefix) for prefix in drop_prefixes):
            continue
        for old, new in (rename or {}).items():
            if key.startswith(old):
                key = new + key[len(old):]
        cleaned[key] = value
    expected = set(module.state_dict())
    missing = sorted(expected - set(cleaned))
    unexpected = sorted(set(cleaned) - expected)
    if missing or unexpected:
        raise KeyError(
            f'{owner}: the keys of {path} do not match the encoder: '
            f'{len(missing)} missing (e.g. {missing[:5]}), {len(unexpected)} '
            f'unexpected (e.g. {unexpected[:5]}). Expected {expected_file}.')
    shapes = [(key, tuple(value.shape), tuple(module.state_dict()[key].shape))
              for key, value in cleaned.items()
              if tuple(value.shape) != tuple(module.state_dict()[key].shape)]
    if shapes:
        raise ValueError(
            f'{owner}: {len(shapes)} tensors of {path} have other shapes than '
            f'the encoder (key, file, encoder): {shapes[:5]}. Expected '
            f'{expected_file} for this depth/width.')
    module.load_state_dict(cleaned, strict=True)
