"""NUN's cross-stage consistency loss (He et al., arXiv 2511.18164,
Sec. 4.3: "L_csc makes the predictions with the best (T1) and second-best
(T2) restored inputs agree")."""
import torch
from torch import nn

from dunseg.registry import MODELS

from .utils import float32_loss


@MODELS.register_module()
class CrossStageConsistencyLoss(nn.Module):
    """``ε · mean |σ(M^{T1}) − σ(M^{T2})|^p`` over the stages given.

    The paper does not state the distance; the squared difference of the
    probabilities (``p = 2``) is the default, ``p = 1`` the alternative.

    Args:
        loss_weight (float): ε.
        power (int): 1 or 2.
    """

    def __init__(self, loss_weight: float = 0.1, power: int = 2,
                 loss_name: str = 'loss_csc') -> None:
        super().__init__()
        if power not in (1, 2):
            raise ValueError(f'{loss_name}: power must be 1 or 2, got {power}')
        self.loss_weight = loss_weight
        self.power = power
        self.loss_name = loss_name

    @float32_loss
    def forward(self, logits_best: torch.Tensor,
                logits_second: torch.Tensor) -> torch.Tensor:
        if logits_best.shape != logits_second.shape:
            raise ValueError(
                f'{self.loss_name}: mask shapes differ, '
                f'{tuple(logits_best.shape)} vs {tuple(logits_second.shape)}')
        diff = torch.sigmoid(logits_best) - torch.sigmoid(logits_second)
        return self.loss_weight * diff.abs().pow(self.power).mean()
