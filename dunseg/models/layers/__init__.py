from .se_layer import SELayer
from .weight_init import PyTorchDefaultInit

__all__ = ['SELayer', 'PyTorchDefaultInit']
