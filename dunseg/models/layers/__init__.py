from .mmagic_proximal import MMagicProximal  # mmagic imported lazily
from .restormer import (GDFN, MDTA, CrossMDTA, DepthwiseConv2d, Downsample,
                        LayerNorm2d,
                        OverlapPatchEmbed, RestormerBlocks, TransformerBlock,
                        Upsample)
from .se_layer import SELayer
from .single_output_conv import SingleOutputConv2d
from .weight_init import PyTorchDefaultInit

__all__ = ['SELayer', 'SingleOutputConv2d', 'PyTorchDefaultInit']
__all__ += [
    'LayerNorm2d', 'DepthwiseConv2d', 'MDTA', 'CrossMDTA', 'GDFN', 'TransformerBlock',
    'RestormerBlocks', 'Downsample', 'Upsample', 'OverlapPatchEmbed'
]
__all__ += ['MMagicProximal']
