"""Checkpoints that load with ``torch.load(weights_only=True)``.

MMEngine stores its message hub (``HistoryBuffer`` objects holding numpy
arrays) and numpy scalars in checkpoints. torch >= 2.6 refuses those under
``weights_only=True``, and allowing them would need ``builtins.getattr``
and numpy reconstruction globals, i.e. arbitrary code on load. dunseg
instead *encodes* those objects as tensors and plain Python values when it
saves (:func:`encode_checkpoint`) and decodes them when it resumes
(:func:`decode_checkpoint`), so every checkpoint dunseg writes, its own
resume included, loads with ``weights_only=True``. Nothing is ever loaded
with ``weights_only=False`` implicitly: foreign checkpoints with pickled
objects are rejected with instructions
(``tools/model_converters/publish_model.py --trust``).
"""
import os
import os.path as osp
import pickle
from typing import Any

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

_BUFFER_TAG = '__dunseg_history_buffer__'
_ARRAY_TAG = '__dunseg_ndarray__'


# Model and optimizer state dicts hold only tensors and numbers already; they
# are left untouched (re-creating a state dict would drop its ``_metadata``).
ENCODED_KEYS = ('meta', 'message_hub', 'param_schedulers')


def encode_checkpoint(obj: Any) -> Any:
    """Replace HistoryBuffer / numpy objects by weights-only-safe values."""
    if isinstance(obj, HistoryBuffer):
        return {
            _BUFFER_TAG: True,
            'log_history': torch.from_numpy(np.array(obj._log_history)),
            'count_history': torch.from_numpy(np.array(obj._count_history)),
            'max_length': int(obj.max_length),
        }
    if isinstance(obj, np.ndarray):
        return {_ARRAY_TAG: torch.from_numpy(np.ascontiguousarray(obj))}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {k: encode_checkpoint(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)) and not hasattr(obj, '_fields'):
        return type(obj)(encode_checkpoint(v) for v in obj)
    return obj


def decode_checkpoint(obj: Any) -> Any:
    """Inverse of :func:`encode_checkpoint`."""
    if isinstance(obj, dict):
        if obj.get(_BUFFER_TAG) is True:
            return HistoryBuffer(obj['log_history'].numpy(),
                                 obj['count_history'].numpy(),
                                 obj['max_length'])
        if _ARRAY_TAG in obj and len(obj) == 1:
            return obj[_ARRAY_TAG].numpy()
        return {k: decode_checkpoint(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)) and not hasattr(obj, '_fields'):
        return type(obj)(decode_checkpoint(v) for v in obj)
    return obj


def load_weights_only(filename: str, map_location=None):
    """Load a local checkpoint with ``weights_only=True``.

    Raises:
        FileNotFoundError: the file does not exist.
        RuntimeError: the file holds pickled Python objects (a checkpoint
            written by plain MMEngine or another framework); the message
            says how to convert it after checking its origin.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} does not exist')
    try:
        return torch.load(filename, map_location=map_location,
                          weights_only=True)
    except pickle.UnpicklingError as err:
        raise RuntimeError(
            f'checkpoint {filename} contains pickled Python objects, so it '
            'cannot be loaded safely (weights_only=True). If you trust its '
            'origin, convert it once with\n  python '
            'tools/model_converters/publish_model.py --trust '
            f'{filename} OUT.pth\nwhich keeps only the weights.\n'
            f'Original error: {str(err).splitlines()[0]}') from err


CheckpointLoader.register_scheme(
    prefixes='', loader=load_weights_only, force=True)


def atomic_torch_save(obj: Any, path: str) -> None:
    """``torch.save`` to a temporary file, then rename over ``path``.

    A crash mid-write leaves the previous file intact.
    """
    directory = osp.dirname(osp.abspath(path))
    tmp = osp.join(directory, f'.{osp.basename(path)}.tmp-{os.getpid()}')
    try:
        with open(tmp, 'wb') as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def save_converted_checkpoint(state_dict: dict, src: str, dst: str) -> None:
    """Write a converted official state dict as a dunseg checkpoint.

    ``{'state_dict': ..., 'meta': {'converted_from': basename(src)}}``,
    written atomically; loads with ``load_from`` or ``load_checkpoint``.
    """
    atomic_torch_save(
        dict(state_dict=state_dict,
             meta=dict(converted_from=osp.basename(src))), dst)
