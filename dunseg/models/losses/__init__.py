from .daclip_loss import DACLIPLoss, clip_contrastive_loss
from .pixel_losses import L1Loss, MSELoss, PSNRLoss
from .soft_iou_loss import SoftIoULoss

__all__ = ['SoftIoULoss', 'MSELoss', 'L1Loss', 'PSNRLoss', 'DACLIPLoss',
           'clip_contrastive_loss']
