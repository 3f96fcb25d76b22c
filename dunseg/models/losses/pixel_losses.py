"""Pixel-wise losses between a predicted and a target image or state."""
import torch
import torch.nn.functional as F
from torch import nn

from dunseg.registry import MODELS

from .utils import float32_loss


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

    @float32_loss
    def forward(self, pred: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
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


@MODELS.register_module()
class PSNRLoss(nn.Module):
    """Negative PSNR, averaged over the samples of a batch.

    ``loss = -mean_i PSNR_i = mean_i 10 log10(MSE_i + eps)`` for images in
    [0, 1]. The gradient of ``log MSE_i`` is that of ``MSE_i`` divided by
    ``MSE_i``, so every sample pulls with the same weight in decibels: in an
    all-in-one batch a mildly degraded image (blur, sigma 15 noise) is not
    outweighed by one far from its target (low light), as it is under L1 or
    MSE, whose gradients scale with the error.

    Args:
        loss_weight (float): Weight of the loss.
        eps (float): Floor inside the logarithm; 1e-8 caps a sample's PSNR
            at 80 dB, so identical images give a finite loss and gradient.
        loss_name (str): Name in the log.
    """

    def __init__(self, loss_weight: float = 1.0, eps: float = 1e-8,
                 loss_name: str = 'loss_psnr') -> None:
        super().__init__()
        if eps <= 0:
            raise ValueError(f'{loss_name}: eps must be positive, got {eps}')
        self.loss_weight = loss_weight
        self.eps = eps
        self.loss_name = loss_name

    @float32_loss
    def forward(self, pred: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        if pred.shape != target.shape or pred.dim() < 2:
            raise ValueError(f'{self.loss_name}: needs same-shaped batched '
                             f'tensors (N, ...), got prediction '
                             f'{tuple(pred.shape)} and target '
                             f'{tuple(target.shape)}')
        per_sample_mse = (pred - target).pow(2).flatten(1).mean(dim=1)
        return self.loss_weight * 10 * torch.log10(
            per_sample_mse + self.eps).mean()
