"""Mixed precision for ``tools/train.py --amp`` on every device.

MMEngine's ``AmpOptimWrapper`` (``torch.cuda.amp``: autocast plus a
``GradScaler``) refuses to be built without a CUDA, NPU, MLU or MUSA device.
On a CPU, :class:`CPUAmpOptimWrapper` autocasts the forward and loss to
bfloat16 instead. It needs no ``GradScaler``: bfloat16 keeps float32's
8-bit exponent, so small gradients do not underflow the way float16's do.
:func:`amp_optim_wrapper_cfg` picks the wrapper for the device.
"""
from contextlib import contextmanager
from typing import Optional, Union

import torch
from mmengine.config import ConfigDict
from mmengine.optim import OptimWrapper

from dunseg.registry import OPTIM_WRAPPERS

#: ``--amp`` values: 'auto' is float16 with a dynamic loss scale on an
#: accelerator (MMEngine's default) and bfloat16 on a CPU
AMP_DTYPES = ('auto', 'float16', 'bfloat16')

#: wrappers ``--amp`` may replace: the plain one or an AMP one already
_PLAIN_WRAPPERS = ('OptimWrapper', 'AmpOptimWrapper', 'CPUAmpOptimWrapper')


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward and loss run under a CPU bfloat16
    autocast (``torch.autocast('cpu', torch.bfloat16)``), without a
    ``GradScaler``.

    Parameters, gradients and optimiser state stay float32; autocast runs
    matrix products and convolutions in bfloat16. Layers that need float32
    (the losses, the selective scan) turn autocast off themselves.

    Args:
        dtype (str | torch.dtype): Autocast dtype; only bfloat16 (float16 on
            a CPU would need loss scaling, which CUDA's AmpOptimWrapper
            has).
        **kwargs: ``OptimWrapper``'s arguments (optimizer, clip_grad,
            accumulative_counts).
    """

    def __init__(self,
                 dtype: Union[str, torch.dtype] = 'bfloat16',
                 **kwargs) -> None:
        if dtype not in ('bfloat16', torch.bfloat16):
            raise ValueError(
                f'CPUAmpOptimWrapper: dtype {dtype!r} is not supported; a '
                'CPU autocasts to bfloat16 (float16 needs the loss scaling '
                "of AmpOptimWrapper on a CUDA device): set dtype='bfloat16' "
                'or use tools/train.py --amp bfloat16')
        super().__init__(**kwargs)
        self.cast_dtype = torch.bfloat16

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        device = next(model.parameters()).device
        if device.type != 'cpu':
            raise RuntimeError(
                f'CPUAmpOptimWrapper autocasts CPU computation only, but the '
                f'model is on {device}; use AmpOptimWrapper there '
                '(tools/train.py --amp picks it on an accelerator)')
        with super().optim_context(model), torch.autocast(
                'cpu', dtype=self.cast_dtype):
            yield


def amp_optim_wrapper_cfg(optim_wrapper: dict,
                          dtype: str = 'auto',
                          device: Optional[str] = None) -> ConfigDict:
    """``optim_wrapper`` turned into the mixed-precision wrapper for
    ``device`` (MMEngine's ``get_device()`` when None).

    On 'cpu': :class:`CPUAmpOptimWrapper` (bfloat16). Elsewhere:
    MMEngine's ``AmpOptimWrapper`` with a dynamic loss scale, float16
    unless ``dtype`` is 'bfloat16'.
    """
    if dtype not in AMP_DTYPES:
        raise ValueError(f'--amp: dtype must be one of {AMP_DTYPES}, got '
                         f'{dtype!r}')
    if not optim_wrapper:
        raise ValueError('--amp: the config has no optim_wrapper to train '
                         'in mixed precision')
    wrapper = ConfigDict(optim_wrapper)
    current = wrapper.get('type', 'OptimWrapper')
    if current not in _PLAIN_WRAPPERS:
        raise ValueError(
            f'--amp replaces optim_wrapper.type, but it is {current!r}, not '
            f'one of {_PLAIN_WRAPPERS}; make that wrapper autocast itself '
            'and train without --amp')
    if device is None:
        from mmengine.device import get_device
        device = get_device()
    # the dtype and loss scale of an AMP wrapper set already are replaced
    for key in ('loss_scale', 'dtype'):
        wrapper.pop(key, None)
    if device == 'cpu':
        wrapper.pop('use_fsdp', None)
        if dtype == 'float16':
            raise ValueError(
                '--amp float16 needs a CUDA device (float16 training needs '
                'the GradScaler of MMEngine\'s AmpOptimWrapper); on a CPU '
                'use --amp or --amp bfloat16')
        wrapper.update(type='CPUAmpOptimWrapper', dtype='bfloat16')
        return wrapper
    if (dtype == 'bfloat16' and device == 'cuda'
            and not torch.cuda.is_bf16_supported()):
        raise ValueError('--amp bfloat16: this CUDA device does not support '
                         'bfloat16; use --amp float16')
    wrapper.update(type='AmpOptimWrapper', loss_scale='dynamic')
    if dtype != 'auto':
        wrapper['dtype'] = dtype
    return wrapper


__all__ = ['AMP_DTYPES', 'CPUAmpOptimWrapper', 'amp_optim_wrapper_cfg']
