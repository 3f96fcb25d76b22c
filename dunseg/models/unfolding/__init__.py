from .derun import DeRUN
from .nun import NUN
from .rpcanet import RPCANet, RPCANetPlus, RPCAUnfolding
from .run import RUNUnfolding
from .vldun import VLDUN, VLDUNSegHead
from .vlunet import VLUNet

__all__ = ['RPCAUnfolding', 'RPCANet', 'RPCANetPlus']
__all__ += ['VLUNet']
__all__ += ['RUNUnfolding']
__all__ += ['NUN', 'DeRUN']
__all__ += ['VLDUN', 'VLDUNSegHead']
from .inner_adapters import VLUNetInnerRestorer  # noqa: E402
from .prior_conditioning import PriorModulatedRPCA  # noqa: E402

__all__ += ['VLUNetInnerRestorer', 'PriorModulatedRPCA']
