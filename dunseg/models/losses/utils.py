"""Helpers shared by the loss modules."""
import functools

import torch

_HALF_DTYPES = (torch.float16, torch.bfloat16)


def _to_float32(value):
    if isinstance(value, torch.Tensor) and value.dtype in _HALF_DTYPES:
        return value.float()
    if isinstance(value, (list, tuple)):
        return type(value)(_to_float32(item) for item in value)
    return value


def _first_tensor(values):
    for value in values:
        if isinstance(value, torch.Tensor):
            return value
        if isinstance(value, (list, tuple)):
            found = _first_tensor(value)
            if found is not None:
                return found
    return None


def float32_loss(forward):
    """Compute a loss in float32 under mixed precision.

    Half-precision tensor arguments are cast to float32 and autocast is
    turned off inside, so reductions, logarithms and exponentials of the
    loss keep float32's 24-bit mantissa (bfloat16 has 8: a mean loss would
    be rounded to 0.4 %). float32 inputs outside autocast run unchanged.
    """

    @functools.wraps(forward)
    def wrapped(*args, **kwargs):
        tensor = _first_tensor(list(args) + list(kwargs.values()))
        device_type = tensor.device.type if tensor is not None else 'cpu'
        if not torch.is_autocast_enabled(device_type):
            return forward(*_to_float32(args),
                           **{k: _to_float32(v)
                              for k, v in kwargs.items()})
        with torch.autocast(device_type, enabled=False):
            return forward(*_to_float32(args),
                           **{k: _to_float32(v)
                              for k, v in kwargs.items()})

    return wrapped


__all__ = ['float32_loss']
