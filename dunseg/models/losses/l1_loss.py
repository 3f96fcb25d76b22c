import torch
import torch.nn.functional as F
from torch import nn

from dunseg.registry import MODELS


@MODELS.register_module()
class L1Loss(nn.Module):
    """Mean absolute error, the restoration loss of VLU-Net (``|x̂ - x|_1``).

    Args:
        loss_weight (float): Weight of the loss.
        loss_name (str): Name in the log.
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_l1') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.loss_name = loss_name

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if pred.shape != target.shape:
            raise ValueError(f'{self.loss_name}: prediction shape '
                             f'{tuple(pred.shape)} differs from target shape '
                             f'{tuple(target.shape)}')
        return self.loss_weight * F.l1_loss(pred, target)
