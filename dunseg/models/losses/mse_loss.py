import torch
import torch.nn.functional as F
from torch import nn

from dunseg.registry import MODELS


@MODELS.register_module()
class MSELoss(nn.Module):
    """Mean squared error, e.g. the RPCA data-fidelity term ``||D^K - D||^2``.

    Args:
        loss_weight (float): Weight of the loss (γ = 0.1 in RPCANet/RPCANet+).
        loss_name (str): Name in the log.
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_mse') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.loss_name = loss_name

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if pred.shape != target.shape:
            raise ValueError(f'{self.loss_name}: prediction shape '
                             f'{tuple(pred.shape)} differs from target shape '
                             f'{tuple(target.shape)}')
        return self.loss_weight * F.mse_loss(pred, target)
