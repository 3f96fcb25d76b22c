"""Pixel-wise losses between a predicted and a target image or state."""
import torch
import torch.nn.functional as F
from torch import nn

from dunseg.registry import MODELS


class _PixelLoss(nn.Module):
    """Weighted mean of an element-wise criterion over same-shaped tensors.

    Args:
        loss_weight (float): Weight of the loss.
        loss_name (str): Name in the log.
    """
    criterion = None

    def __init__(self, loss_weight: float = 1.0, loss_name: str = '') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.loss_name = loss_name

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if pred.shape != target.shape:
            raise ValueError(f'{self.loss_name}: prediction shape '
                             f'{tuple(pred.shape)} differs from target shape '
                             f'{tuple(target.shape)}')
        return self.loss_weight * type(self).criterion(pred, target)


@MODELS.register_module()
class MSELoss(_PixelLoss):
    """Mean squared error, e.g. the RPCA data-fidelity term ``||D^K - D||^2``
    (``loss_weight`` γ = 0.1 in RPCANet/RPCANet+)."""
    criterion = F.mse_loss

    def __init__(self, loss_weight: float = 1.0,
                 loss_name: str = 'loss_mse') -> None:
        super().__init__(loss_weight, loss_name)


@MODELS.register_module()
class L1Loss(_PixelLoss):
    """Mean absolute error, the restoration loss of VLU-Net (``|x̂ - x|_1``)."""
    criterion = F.l1_loss

    def __init__(self, loss_weight: float = 1.0,
                 loss_name: str = 'loss_l1') -> None:
        super().__init__(loss_weight, loss_name)
