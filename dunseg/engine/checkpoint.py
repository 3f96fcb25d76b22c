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
(``tools/misc/publish_model.py --trust``).
"""
import os
import os.path as osp
import pickle
import re
import warnings
from collections import OrderedDict
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
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
            'tools/misc/publish_model.py --trust '
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


def atomic_write_text(text: str, path: str) -> None:
    """Write a small text file (e.g. ``last_checkpoint``) atomically."""
    directory = osp.dirname(osp.abspath(path))
    tmp = osp.join(directory, f'.{osp.basename(path)}.tmp-{os.getpid()}')
    try:
        with open(tmp, 'w') as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


_TEMP_FILE = re.compile(r'^\..+\.tmp-(\d+)$')


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def remove_stale_temp_files(directory: str) -> List[str]:
    """Delete ``.NAME.tmp-PID`` files left in ``directory`` by killed saves.

    :func:`atomic_torch_save`, :func:`atomic_write_text` and
    :meth:`DunSegRunner.save_checkpoint` write to such a file and rename it;
    a process killed mid-write leaves it behind. Files of a process that is
    still running (another run in the same folder) are kept.

    Returns:
        The removed paths.
    """
    removed = []
    if not osp.isdir(directory):
        return removed
    for name in os.listdir(directory):
        match = _TEMP_FILE.match(name)
        if not match or _pid_alive(int(match.group(1))):
            continue
        path = osp.join(directory, name)
        try:
            os.remove(path)
            removed.append(path)
        except FileNotFoundError:
            pass
    return removed


_PERIODIC_CHECKPOINT = re.compile(r'^(iter|epoch)_(\d+)\.pth$')


def periodic_checkpoints(directory: str) -> List[str]:
    """``iter_N.pth`` / ``epoch_N.pth`` files in ``directory``, newest
    first."""
    if not osp.isdir(directory):
        return []
    found = []
    for name in os.listdir(directory):
        match = _PERIODIC_CHECKPOINT.match(name)
        if match:
            found.append((int(match.group(2)), name))
    return [osp.join(directory, name) for _, name in sorted(found,
                                                             reverse=True)]


def read_last_checkpoint_pointer(work_dir: str) -> Optional[str]:
    """The path ``work_dir/last_checkpoint`` names, or None if it names none.

    Relative pointers (a work dir that was moved) are resolved against
    ``work_dir``.
    """
    pointer = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        return None
    with open(pointer) as f:
        target = f.read().strip()
    if not target:
        return None
    if not osp.isabs(target) and not osp.exists(target):
        target = osp.join(work_dir, osp.basename(target))
    return target


def find_resumable_checkpoint(work_dir: str,
                              logger=None) -> Optional[str]:
    """The newest checkpoint in ``work_dir`` that actually loads.

    ``last_checkpoint`` is tried first. If it is missing, empty, dangling or
    names a file that does not load (a save killed mid-write), the periodic
    checkpoints are tried newest first, and the choice is logged.

    Returns:
        A path, or None when nothing in ``work_dir`` can be resumed.
    """
    pointed = read_last_checkpoint_pointer(work_dir)
    candidates = ([pointed] if pointed else []) + [
        path for path in periodic_checkpoints(work_dir)
        if not pointed or osp.abspath(path) != osp.abspath(pointed)
    ]
    problems = []
    for path in candidates:
        try:
            checkpoint = load_weights_only(path, map_location='cpu')
        except Exception as err:  # noqa: BLE001 - any unreadable file
            problems.append(f'{path}: {str(err).splitlines()[0]}')
            continue
        if not (isinstance(checkpoint, dict) and 'state_dict' in checkpoint
                and 'meta' in checkpoint):
            problems.append(f'{path}: not a training checkpoint (no '
                            'state_dict/meta)')
            continue
        if problems or path != pointed:
            reasons = ([] if pointed else
                       ['last_checkpoint is missing or empty']) + problems
            reason = '; '.join(reasons)
            message = (f'resuming from {path}, the newest checkpoint in '
                       f'{work_dir} that loads ({reason})')
            if logger is not None:
                logger.warning(message)
            else:
                warnings.warn(message)
        return path
    return None


class CheckpointMismatchError(RuntimeError):
    """A checkpoint's weights do not fit the model they are loaded into."""


class NonFiniteWeightsError(FloatingPointError):
    """Weights hold NaN or infinite values (a diverged run or a damaged
    file): they are neither saved nor loaded."""


def non_finite_tensors(state_dict: dict) -> Tuple[List[str], int]:
    """The keys of the floating-point tensors of ``state_dict`` that hold a
    NaN or an infinity (in order), and the number of tensors checked."""
    bad, checked = [], 0
    for key, value in state_dict.items():
        if torch.is_tensor(value) and (value.is_floating_point()
                                       or value.is_complex()):
            checked += 1
            if not bool(torch.isfinite(value).all()):
                bad.append(key)
    return bad, checked


def check_finite_weights(state_dict: dict, source: str) -> None:
    """Raise :class:`NonFiniteWeightsError` naming the first non-finite
    tensor of a checkpoint about to be loaded."""
    bad, checked = non_finite_tensors(state_dict)
    if bad:
        raise NonFiniteWeightsError(
            f'checkpoint {source}: {len(bad)} of {checked} tensors hold NaN '
            f'or infinite values, the first is {bad[0]!r}. It comes from a '
            'diverged run or is damaged, and nothing computed from it would '
            'mean anything; load an earlier checkpoint of the run instead.')


def _saved_model_type(cfg_text) -> Optional[str]:
    """``model.type`` of the config text MMEngine saves in a checkpoint's
    meta (the first ``type=`` of the text may belong to a hook or a
    nested module, so the text is parsed)."""
    if not isinstance(cfg_text, str):
        return None
    try:
        model = Config.fromstring(cfg_text, '.py').get('model')
    except Exception:  # an unreadable saved config only loses the hint
        return None
    model_type = model.get('type') if isinstance(model, dict) else None
    return model_type if isinstance(model_type, str) else None


def _checkpoint_origin(checkpoint: dict) -> str:
    """A sentence on where a checkpoint comes from, for error messages."""
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    if not isinstance(meta, dict):
        return ('It has no dunseg/MMEngine meta data: if it is an official '
                'release, convert it first (tools/model_converters/'
                'rpcanet2dunseg.py for RPCANet/RPCANet+, vlunet2dunseg.py '
                'and vlunet_clip2dunseg.py for VLU-Net).')
    if 'converted_from' in meta:
        return (f'It was converted from {meta["converted_from"]}: use the '
                'config the converter names for that file.')
    parts = []
    if meta.get('experiment_name'):
        parts.append(f'experiment {meta["experiment_name"]}')
    model_type = _saved_model_type(meta.get('cfg'))
    if model_type:
        parts.append(f"model type '{model_type}'")
    if parts:
        return (f'It was trained as {", ".join(parts)}: test it with the '
                'config of that run (saved beside it in the work dir).')
    return 'Test it with the config it was trained with.'


def check_state_dict_matches(model: torch.nn.Module, state_dict: dict,
                             source: str, checkpoint: Optional[dict] = None,
                             max_listed: int = 5,
                             keep_built: Sequence[str] = ()) -> None:
    """Raise unless ``state_dict`` has exactly the model's keys and shapes
    (those under the ``keep_built`` prefixes, ending in '.', aside).

    Raises:
        CheckpointMismatchError: listing up to ``max_listed`` missing,
            unexpected and mis-shaped keys with their counts, where the
            checkpoint comes from and how to load it anyway.
    """
    prefixes = tuple(keep_built)
    expected = {k: v for k, v in model.state_dict().items()
                if not (prefixes and k.startswith(prefixes))}
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    mis_shaped = [
        f'{k}: checkpoint {tuple(state_dict[k].shape)} vs model '
        f'{tuple(expected[k].shape)}' for k in expected
        if k in state_dict and hasattr(state_dict[k], 'shape')
        and tuple(state_dict[k].shape) != tuple(expected[k].shape)
    ]
    if not (missing or unexpected or mis_shaped):
        return

    def listing(title, keys):
        if not keys:
            return ''
        shown = ', '.join(keys[:max_listed])
        more = f', ... ({len(keys) - max_listed} more)' if len(
            keys) > max_listed else ''
        return f'\n  {len(keys)} {title}: {shown}{more}'

    raise CheckpointMismatchError(
        f'checkpoint {source} does not fit the model '
        f'{type(model).__name__} ({len(expected)} tensors; the checkpoint '
        f'has {len(state_dict)}):' + listing('missing in the checkpoint',
                                            missing) +
        listing('unexpected', unexpected) +
        listing('with another shape', mis_shaped) + '\n' +
        _checkpoint_origin(checkpoint or {}) +
        '\nTo load the matching part on purpose (e.g. fine-tuning from '
        'another model), set load_strict=False in the config (tools: '
        '--cfg-options load_strict=False; API: init_model(..., '
        'strict=False)).')


def load_model_weights(model: torch.nn.Module,
                       checkpoint: dict,
                       source: str,
                       strict: bool = True,
                       revise_keys: Sequence[Tuple[str, str]] = (
                           (r'^module\.', ''), ),
                       logger=None,
                       keep_built: Sequence[str] = ()) -> dict:
    """Load a checkpoint dict's weights into ``model``.

    With ``strict`` (the default everywhere dunseg loads a whole model:
    ``load_from``, ``--resume``, ``tools/test.py``, the demo), any missing,
    unexpected or mis-shaped key is a :class:`CheckpointMismatchError`
    before a single weight is copied. ``strict=False`` loads what matches
    and logs the rest (MMEngine's behaviour), for deliberate partial loads.

    ``keep_built`` names submodules (state-dict prefixes such as
    ``'selector'``) that keep the weights they were built with: their keys
    in the checkpoint are dropped and not required, everything else is
    loaded as ``strict`` says. It is how a trained NUN is tested with
    another selector's weight file (config key ``keep_built_weights``); a
    plain ``strict=False`` would still copy the old selector's tensors
    wherever the shapes happen to agree.
    """
    from mmengine.runner.checkpoint import _load_checkpoint_to_model
    if not isinstance(checkpoint, dict):
        raise TypeError(f'checkpoint {source} holds a '
                        f'{type(checkpoint).__name__}, not a state dict')
    state_dict = checkpoint.get('state_dict', checkpoint)
    revised = dict(state_dict)
    for pattern, replacement in revise_keys:
        revised = {re.sub(pattern, replacement, k): v
                   for k, v in revised.items()}
    prefixes = tuple(str(p).rstrip('.') + '.' for p in keep_built)
    if prefixes:
        # a prefix the model has no weights under is fine when the
        # checkpoint has (a weightless selector replacing a learned one);
        # one that neither has is a typo
        unknown = [p[:-1] for p in prefixes if not any(
            k.startswith(p) for k in list(model.state_dict()) +
            list(revised))]
        if unknown:
            raise KeyError(
                f'keep_built_weights: {unknown} name no weights of '
                f'{type(model).__name__} or of {source}; use state-dict '
                "prefixes such as 'selector'")
        kept = OrderedDict((k, v) for k, v in revised.items()
                           if not k.startswith(prefixes))
        # the keys are revised already; MMEngine reads the metadata
        kept._metadata = getattr(state_dict, '_metadata', OrderedDict())
        revised = kept
        checkpoint = dict(checkpoint, state_dict=revised)
        revise_keys = ()
    if strict:
        check_state_dict_matches(model, revised, source, checkpoint,
                                 keep_built=prefixes)
    check_finite_weights(revised, source)
    return _load_checkpoint_to_model(
        model, checkpoint, strict=False, logger=logger,
        revise_keys=list(revise_keys))
