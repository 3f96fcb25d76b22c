from .pgd_hier import VLUNet
from .rpca import RPCANet, RPCANetPlus, RPCAUnfolding

__all__ = ['RPCAUnfolding', 'RPCANet', 'RPCANetPlus']
__all__ += ['VLUNet']
