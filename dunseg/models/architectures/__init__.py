from .unfolding_segmentor import UnfoldingSegmentor

__all__ = ['UnfoldingSegmentor']
