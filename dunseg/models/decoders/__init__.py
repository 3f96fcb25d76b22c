from .state_mask_head import StateMaskHead

__all__ = ['StateMaskHead']
