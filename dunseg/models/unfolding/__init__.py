from .pgd_hier import VLUNet
from .rpca import RPCANet, RPCANetPlus, RPCAUnfolding
from .run import RUNUnfolding

__all__ = ['RPCAUnfolding', 'RPCANet', 'RPCANetPlus']
__all__ += ['VLUNet']
__all__ += ['RUNUnfolding']
