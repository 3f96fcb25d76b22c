import torch
from torch import nn

from dunseg.registry import MODELS

from .utils import float32_loss


@MODELS.register_module()
class SoftIoULoss(nn.Module):
    """Soft IoU loss on logits, averaged over images.

    Per image ``(I + s) / (P + G - I + s)`` with ``P = sum sigmoid(logits)``,
    ``G = sum target``, ``I = sum sigmoid(logits) * target`` and smoothing
    ``s`` (1, as in the RPCANet code); the loss is ``1 - mean``.

    Args:
        smooth (float): Smoothing term s.
        loss_weight (float): Weight of the loss.
        loss_name (str): Name in the log; must start with ``loss_`` to be
            back-propagated.
    """

    def __init__(self,
                 smooth: float = 1.0,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_softiou') -> None:
        super().__init__()
        self.smooth = smooth
        self.loss_weight = loss_weight
        self.loss_name = loss_name

    @float32_loss
    def forward(self, logits: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        if logits.shape != target.shape:
            raise ValueError(f'{self.loss_name}: prediction shape '
                             f'{tuple(logits.shape)} differs from target '
                             f'shape {tuple(target.shape)}')
        prob = logits.sigmoid()
        dims = tuple(range(1, prob.dim()))
        inter = (prob * target).sum(dims)
        union = prob.sum(dims) + target.sum(dims) - inter
        iou = (inter + self.smooth) / (union + self.smooth)
        return self.loss_weight * (1 - iou.mean())
