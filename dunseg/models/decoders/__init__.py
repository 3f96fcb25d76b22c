from .fpn_mask_decoder import FPNMaskDecoder
from .state_mask_head import StateMaskHead

__all__ = ['FPNMaskDecoder', 'StateMaskHead']
