from .se_layer import SELayer
from .single_output_conv import SingleOutputConv2d
from .weight_init import PyTorchDefaultInit

__all__ = ['SELayer', 'SingleOutputConv2d', 'PyTorchDefaultInit']
