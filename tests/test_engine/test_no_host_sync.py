"""No family's training step makes the host wait for the device.

A host-device synchronisation (``.item()``, ``float(t)``, ``bool(t)`` or an
``if`` on a tensor, ``nonzero`` and boolean-mask indexing, whose output size
the host must learn, a blocking copy to or from the device) stalls a CUDA
device: the host stops queueing kernels until the device has caught up.
:class:`NoHostSync` raises on each of them, so one CPU run of a step shows
the code that would stall an accelerator.

What is wrapped: MMEngine's ``model.train_step`` on a batch of two samples
(the data preprocessor, the model's forward and loss under the optimiser
wrapper's context, ``parse_losses``, backward, the optimiser step). Allowed
call sites, with why they are not a stall worth removing:

- ``BaseDataPreprocessor.cast_data`` moves the collated batch to the device,
  the one host-to-device transfer a step needs.
- ``torch.optim``'s ``_get_value`` reads the step count, a host tensor
  unless the optimiser is ``capturable``: the host waits for nothing.
- ``OptimWrapper._clip_grad`` logs the gradient norm (``train/grad_norm``).

Outside ``train_step``, and not wrapped: the logger hook's and MMEngine's
log processor's ``.item()`` on the logged losses, the evaluators' metrics
and the non-finite-loss check of the runner, which read finished values
once per logged iteration.
"""
import traceback
from contextlib import contextmanager

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from .family_steps import (
    FAMILY_CONFIGS,
    build_family_batch,
    build_family_model,
    build_family_optim_wrapper,
)

aten = torch.ops.aten

#: ops whose result the host has to read, and what in Python causes them
HOST_READ_OPS = {
    aten._local_scalar_dense: '.item(), float(t), int(t), bool(t) or an '
    'if / while on a tensor',
    aten.item: '.item()',
    aten.is_nonzero: 'bool(t) or an if / while on a tensor',
    aten.equal: 'torch.equal (returns a Python bool)',
    aten.nonzero: 'nonzero (output size depends on the values)',
    aten.argwhere: 'argwhere (output size depends on the values)',
    aten.masked_select: 'masked_select (output size depends on the values)',
    aten._unique2: 'unique (output size depends on the values)',
    aten.unique_dim: 'unique (output size depends on the values)',
    aten.unique_consecutive: 'unique_consecutive (output size depends on '
    'the values)',
}

#: Tensor methods that read values on the host without a dispatched op on
#: a CPU tensor (on an accelerator they copy to the host)
HOST_READ_METHODS = ('cpu', 'numpy', 'tolist')


def _holds_tensor(data) -> bool:
    if isinstance(data, torch.Tensor):
        return True
    return isinstance(data, (list, tuple)) and any(
        _holds_tensor(item) for item in data)

#: (file path suffix, function) -> why a host read there is acceptable
ALLOWED_CALL_SITES = {
    ('mmengine/model/base_model/data_preprocessor.py', 'cast_data'):
    'moves the collated batch to the device, the one host-to-device '
    'transfer a step needs',
    ('torch/optim/optimizer.py', '_get_value'):
    'torch.optim reads its step count, a host tensor unless the optimiser '
    'is capturable: the host waits for nothing',
    ('mmengine/optim/optimizer/optimizer_wrapper.py', '_clip_grad'):
    'logs the gradient norm (train/grad_norm)',
}

FIX_HINT = ('keep the value a tensor: torch.where / clamp instead of an '
            'if, index tensors instead of boolean masks, checks on host '
            'values before they are copied or torch._assert_async')


class HostSyncError(RuntimeError):
    """Raised where the code would make the host wait for the device."""


def _is_bool_index(index) -> bool:
    return isinstance(index, torch.Tensor) and index.dtype in (torch.bool,
                                                               torch.uint8)


def _copy_reason(source: torch.Tensor, target_device,
                 non_blocking: bool):
    if target_device is None or not isinstance(source, torch.Tensor):
        return None
    target_device = torch.device(target_device)
    if source.device == target_device:
        return None
    if source.device.type != 'cpu':
        return (f'a copy from {source.device} to {target_device} (the host '
                'waits for the device to finish)')
    if not non_blocking:
        return (f'a blocking copy from the host to {target_device} (waits '
                'for the device queue; use non_blocking=True)')
    return None


def _sync_reason(func, args, kwargs):
    packet = func.overloadpacket
    if packet in HOST_READ_OPS:
        return HOST_READ_OPS[packet]
    if packet in (aten.index, aten.index_put, aten.index_put_) and len(
            args) > 1 and any(_is_bool_index(i) for i in args[1]):
        return 'indexing by a boolean mask (runs nonzero)'
    if packet is aten._to_copy:
        return _copy_reason(args[0], kwargs.get('device'),
                            kwargs.get('non_blocking', False))
    if packet is aten.copy_:
        return _copy_reason(args[1], args[0].device,
                            kwargs.get('non_blocking', False)
                            if len(args) < 3 else args[2])
    return None


def _allowed_call_site(stack):
    for frame in stack:
        filename = frame.filename.replace('\\', '/')
        for (suffix, function), reason in ALLOWED_CALL_SITES.items():
            if filename.endswith(suffix) and frame.name == function:
                return reason
    return None


_MODE_FUNCTIONS = ('_check', '__torch_dispatch__', 'host_read',
                   'tensor_from_data')


def _culprit(stack) -> str:
    """The innermost frame outside the mode and torch's dispatch code."""
    for frame in reversed(stack):
        filename = frame.filename.replace('\\', '/')
        if (filename == __file__ and frame.name in _MODE_FUNCTIONS) or (
                '/torch/utils/' in filename or '/torch/_' in filename):
            continue
        return f'{filename}:{frame.lineno} ({frame.name}: {frame.line})'
    return '?'


class NoHostSync(TorchDispatchMode):
    """Raises :class:`HostSyncError` on every host-device synchronisation
    outside :data:`ALLOWED_CALL_SITES` and :meth:`allow` blocks, naming the
    op, its cause in Python and the line that ran it."""

    def __init__(self):
        super().__init__()
        self._allowed_reason = None
        self._saved_methods = {}

    @contextmanager
    def allow(self, reason: str):
        """Let host reads through, for a stated ``reason``."""
        if not reason:
            raise ValueError('NoHostSync.allow needs the reason')
        previous, self._allowed_reason = self._allowed_reason, reason
        try:
            yield
        finally:
            self._allowed_reason = previous

    def _check(self, what: str) -> None:
        if self._allowed_reason is not None:
            return
        stack = traceback.extract_stack()[:-2]
        if _allowed_call_site(stack) is not None:
            return
        raise HostSyncError(f'{what} at {_culprit(stack)}; {FIX_HINT}')

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        reason = _sync_reason(func, args, kwargs)
        if reason is not None:
            self._check(f'host-device synchronisation: {func} ({reason})')
        return func(*args, **kwargs)

    def __enter__(self):
        new_tensor = self._saved_new_tensor = torch.tensor

        def tensor_from_data(data, *args, **kwargs):
            # reads each element on the host, below the dispatcher
            if isinstance(data, (list, tuple)) and _holds_tensor(data):
                self._check('host read: torch.tensor() of a sequence of '
                            'tensors (torch.stack keeps them on the device)')
            return new_tensor(data, *args, **kwargs)

        torch.tensor = tensor_from_data
        for name in HOST_READ_METHODS:
            original = getattr(torch.Tensor, name)
            self._saved_methods[name] = original

            def host_read(tensor, *args, _name=name, _original=original,
                          **kwargs):
                self._check(f'host read: Tensor.{_name}() (a copy to the '
                            'host on an accelerator)')
                return _original(tensor, *args, **kwargs)

            setattr(torch.Tensor, name, host_read)
        return super().__enter__()

    def __exit__(self, *exc_info):
        torch.tensor = self._saved_new_tensor
        for name, original in self._saved_methods.items():
            setattr(torch.Tensor, name, original)
        self._saved_methods.clear()
        return super().__exit__(*exc_info)


# --------------------------------------------------------------------- #
# the mode catches what it is meant to catch
def test_mode_catches_item_with_the_line():
    x = torch.ones(2)
    with pytest.raises(HostSyncError, match=r'_local_scalar_dense.*'
                       r'test_no_host_sync\.py:\d+'):
        with NoHostSync():
            x.sum().item()


@pytest.mark.parametrize('read', [
    pytest.param(lambda x: float(x.sum()), id='float'),
    pytest.param(lambda x: 1 if x.sum() > 0 else 0, id='if'),
    pytest.param(lambda x: x[x > 0], id='boolean-mask'),
    pytest.param(lambda x: x.nonzero(), id='nonzero'),
    pytest.param(lambda x: torch.equal(x, x), id='equal'),
    pytest.param(lambda x: x.tolist(), id='tolist'),
    pytest.param(lambda x: x.cpu(), id='cpu'),
    pytest.param(lambda x: x.numpy(), id='numpy'),
    pytest.param(lambda x: torch.tensor([x.sum(), x.max()]), id='tensor'),
])
def test_mode_catches_host_reads(read):
    x = torch.arange(4.)
    with pytest.raises(HostSyncError):
        with NoHostSync():
            read(x)


def test_mode_catches_device_copies_but_not_non_blocking_uploads():
    on_meta = torch.ones(2, device='meta')
    with NoHostSync():
        with pytest.raises(HostSyncError, match='copy from meta to cpu'):
            on_meta.to('cpu')
        with pytest.raises(HostSyncError, match='blocking copy from the '
                           'host to meta'):
            torch.ones(2).to('meta')
        torch.ones(2).to('meta', non_blocking=True)
        # computing on the device is fine
        (on_meta * 2).sum()


def test_mode_allows_stated_reasons_only_and_restores_tensor_methods():
    mode = NoHostSync()
    with mode:
        with mode.allow('the test reads a value on purpose'):
            assert torch.ones(1).item() == 1.0
            assert torch.ones(1).tolist() == [1.0]
        with pytest.raises(HostSyncError):
            torch.ones(1).item()
        with pytest.raises(ValueError, match='needs the reason'):
            with mode.allow(''):
                pass
    assert torch.ones(1).tolist() == [1.0]
    assert torch.Tensor.cpu.__name__ == 'cpu'
    assert torch.tensor([torch.ones(())]).shape == (1, )


# --------------------------------------------------------------------- #
SLOW_FAMILIES = ('nun', 'vldun')


@pytest.mark.parametrize('family', [
    pytest.param(name,
                 marks=[pytest.mark.slow] if name in SLOW_FAMILIES else [])
    for name in FAMILY_CONFIGS
])
def test_train_step_has_no_host_sync(family):
    model = build_family_model(family)
    batch = build_family_batch(family)
    optim_wrapper = build_family_optim_wrapper(family, model)
    before = [p.detach().clone() for p in model.parameters()
              if p.requires_grad]
    with NoHostSync():
        log_vars = model.train_step(batch, optim_wrapper)
    assert all(torch.isfinite(v).all() for v in log_vars.values())
    after = [p for p in model.parameters() if p.requires_grad]
    # the step ran to the end: the optimiser moved the weights
    assert any(not torch.equal(b, a) for b, a in zip(before, after))
