from .rpca import RPCANet, RPCANetPlus, RPCAUnfolding

__all__ = ['RPCAUnfolding', 'RPCANet', 'RPCANetPlus']
