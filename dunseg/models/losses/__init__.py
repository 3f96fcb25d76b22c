from .consistency_loss import CrossStageConsistencyLoss
from .daclip_loss import DACLIPLoss, clip_contrastive_loss
from .pixel_losses import L1Loss, MSELoss, PSNRLoss
from .soft_iou_loss import SoftIoULoss
from .structure_loss import DiceLoss, StructureLoss, UncertaintyAwareLoss

__all__ = ['SoftIoULoss', 'MSELoss', 'L1Loss', 'PSNRLoss', 'DACLIPLoss',
           'clip_contrastive_loss']
__all__ += ['StructureLoss', 'DiceLoss', 'UncertaintyAwareLoss']
__all__ += ['CrossStageConsistencyLoss']
from .segmentation_losses import (  # noqa: E402
           CrossEntropyLoss,
           FocalLoss,
           MultiClassDiceLoss,
)

__all__ += ['FocalLoss', 'CrossEntropyLoss', 'MultiClassDiceLoss']
