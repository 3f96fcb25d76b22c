from .checkpoint_hook import DunSegCheckpointHook
from .visualization_hook import DunSegVisualizationHook

__all__ = ['DunSegCheckpointHook', 'DunSegVisualizationHook']
