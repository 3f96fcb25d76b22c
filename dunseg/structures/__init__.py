from .data_sample import DunSegDataSample, stack_gt_masks

__all__ = ['DunSegDataSample', 'stack_gt_masks']
