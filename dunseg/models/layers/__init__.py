from .mamba import BiMamba, MambaLayer
from .mmagic_proximal import MMagicProximal  # mmagic imported lazily
from .restormer import (
                        GDFN,
                        MDTA,
                        CrossMDTA,
                        DepthwiseConv2d,
                        Downsample,
                        LayerNorm2d,
                        OverlapPatchEmbed,
                        RestormerBlocks,
                        TransformerBlock,
                        Upsample,
)
from .se_layer import SELayer
from .selective_scan import SelectiveScan, selective_scan
from .single_output_conv import SingleOutputConv2d
from .vss import CAB, SS2D, VSSBlock
from .weight_init import PyTorchDefaultInit

__all__ = ['SELayer', 'SingleOutputConv2d', 'PyTorchDefaultInit']
__all__ += [
    'LayerNorm2d', 'DepthwiseConv2d', 'MDTA', 'CrossMDTA', 'GDFN',
    'TransformerBlock', 'RestormerBlocks', 'Downsample', 'Upsample',
    'OverlapPatchEmbed'
]
__all__ += ['MMagicProximal']
__all__ += [
    'selective_scan', 'SelectiveScan', 'MambaLayer', 'BiMamba', 'SS2D', 'CAB',
    'VSSBlock'
]
