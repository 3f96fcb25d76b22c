"""Weight initialisers beyond MMEngine's built-in ones."""
from mmengine.model.weight_init import (
    BaseInit,
    _get_bases_name,
    update_init_info,
)
from torch import nn

from dunseg.registry import WEIGHT_INITIALIZERS


@WEIGHT_INITIALIZERS.register_module(name='PyTorchDefault')
class PyTorchDefaultInit(BaseInit):
    """Re-draw parameters with PyTorch's own ``reset_parameters``.

    For ``Conv2d`` that is Kaiming-uniform with ``a = sqrt(5)`` (weights
    within +-1/sqrt(fan_in)) and biases uniform in the same bound: smaller
    weights than Xavier-normal, so the initial target maps of an RPCA
    unfolding network are less saturated. It lets a config name this choice
    where a backbone's default ``init_cfg`` would overwrite it.

    Args:
        layer (str | list[str]): Class names of the modules to reset,
            subclasses included (as in MMEngine's initialisers); empty =
            every module that has ``reset_parameters``.
    """

    def __call__(self, module: nn.Module) -> None:
        for submodule in module.modules():
            if not hasattr(submodule, 'reset_parameters'):
                continue
            names = {type(submodule).__name__, *_get_bases_name(submodule)}
            if self.layer and not names & set(self.layer):
                continue
            submodule.reset_parameters()
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=self._get_init_info())

    def _get_init_info(self) -> str:
        return f'{self.__class__.__name__}: reset_parameters of ' + (
            ', '.join(self.layer) if self.layer else 'all layers')
