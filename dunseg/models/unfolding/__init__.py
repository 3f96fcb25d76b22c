from .am_unfolding import VLDUN, VLDUNSegHead
from .pgd_hier import VLUNet
from .rpca import RPCANet, RPCANetPlus, RPCAUnfolding
from .nested import NUN, DeRUN
from .run import RUNUnfolding

__all__ = ['RPCAUnfolding', 'RPCANet', 'RPCANetPlus']
__all__ += ['VLUNet']
__all__ += ['RUNUnfolding']
__all__ += ['NUN', 'DeRUN']
__all__ += ['VLDUN', 'VLDUNSegHead']
