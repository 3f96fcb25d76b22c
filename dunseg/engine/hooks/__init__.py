from .visualization_hook import DunSegVisualizationHook

__all__ = ['DunSegVisualizationHook']
