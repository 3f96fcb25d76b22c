from .l1_loss import L1Loss
from .mse_loss import MSELoss
from .soft_iou_loss import SoftIoULoss

__all__ = ['SoftIoULoss', 'MSELoss', 'L1Loss']
