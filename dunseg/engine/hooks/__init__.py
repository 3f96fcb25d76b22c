from .checkpoint_hook import DunSegCheckpointHook
from .clean_warmup_hook import CleanWarmupHook
from .logger_hook import DunSegLoggerHook
from .visualization_hook import DunSegVisualizationHook

__all__ = [
    'CleanWarmupHook', 'DunSegCheckpointHook', 'DunSegLoggerHook',
    'DunSegVisualizationHook'
]
