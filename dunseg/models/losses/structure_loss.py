"""Losses of the COD models (SINet-V2 / FEDER / RUN / NUN code bases)."""
import math
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub
from torch import nn

from dunseg.registry import MODELS

from .utils import float32_loss


def _check_shapes(name: str, pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape:
        raise ValueError(f'{name}: prediction shape {tuple(pred.shape)} '
                         f'differs from target shape {tuple(target.shape)}')


def box_mean(x: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """``F.avg_pool2d(x, k, stride=1, padding=k // 2)`` (zero padding counted)
    as a column pass then a row pass: the k x k mean filter is separable, and
    two 1-D passes cost 2k instead of k² reads per pixel (7x faster for the
    31 x 31 filter on a 64 x 64 mask, where it was 2 % of a NUN-tiny step)."""
    pad = kernel_size // 2
    columns = F.avg_pool2d(x, (kernel_size, 1), stride=1, padding=(pad, 0))
    return F.avg_pool2d(columns, (1, kernel_size), stride=1, padding=(0, pad))


@MODELS.register_module()
class StructureLoss(nn.Module):
    """Weighted BCE + weighted IoU on mask logits (PraNet, SINet-V2, RUN).

    With the boundary-emphasising weight ``w = 1 + 5 |avgpool_31(G) − G|``
    (31 x 31 mean filter, zero padding counted), per image::

        wBCE = Σ w · BCE(x, G) / Σ w
        wIoU = 1 − (Σ w p G + 1) / (Σ w (p + G) − Σ w p G + 1),   p = σ(x)

    and the loss is the batch mean of ``wBCE + wIoU``.

    ``official_unweighted_bce`` (default False): the official code calls
    ``binary_cross_entropy_with_logits(..., reduce='none')``; the legacy
    ``reduce`` argument takes the string as True, so the BCE is reduced to one
    batch mean *before* the weighting and ``Σ w · mean / Σ w`` equals that
    mean: the BCE term is in fact unweighted. ``True`` reproduces that.

    Args:
        kernel_size (int): Size of the mean filter (31).
        boundary_weight (float): Factor of the boundary term (5).
        official_unweighted_bce (bool): See above.
        loss_weight (float): Weight of the loss.
        loss_name (str): Name in the log.
    """

    def __init__(self,
                 kernel_size: int = 31,
                 boundary_weight: float = 5.0,
                 official_unweighted_bce: bool = False,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_structure') -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.boundary_weight = boundary_weight
        self.official_unweighted_bce = official_unweighted_bce
        self.loss_weight = loss_weight
        self.loss_name = loss_name

    @float32_loss
    def forward(self, logits: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        _check_shapes(self.loss_name, logits, target)
        target = target.to(logits.dtype)
        local_mean = box_mean(target, self.kernel_size)
        weight = 1 + self.boundary_weight * (local_mean - target).abs()
        if self.official_unweighted_bce:
            bce = F.binary_cross_entropy_with_logits(logits, target)
            weighted_bce = bce.expand(logits.shape[:2])
        else:
            bce = F.binary_cross_entropy_with_logits(
                logits, target, reduction='none')
            weighted_bce = ((weight * bce).sum(dim=(2, 3)) /
                            (weight.sum(dim=(2, 3)) + 1e-6))
        prob = torch.sigmoid(logits)
        inter = (prob * target * weight).sum(dim=(2, 3))
        union = ((prob + target) * weight).sum(dim=(2, 3))
        weighted_iou = 1 - (inter + 1) / (union - inter + 1 + 1e-6)
        return self.loss_weight * (weighted_bce + weighted_iou).mean()


@MODELS.register_module()
class DiceLoss(nn.Module):
    """``1 − (2 Σ p g + s) / (Σ p^e + Σ g^e + s)`` per image, averaged over
    the batch (RUN's edge loss: ``p`` are edge maps already in [0, 1],
    ``s = 1``, ``e = 2``).

    Args:
        smooth (float): Smoothing term s.
        exponent (float): Exponent e of the denominator.
        use_sigmoid (bool): Apply a sigmoid to the prediction first (for
            logits); RUN's edges are clamped maps, so False.
        loss_weight (float): Weight of the loss.
        loss_name (str): Name in the log.
    """

    def __init__(self,
                 smooth: float = 1.0,
                 exponent: float = 2.0,
                 use_sigmoid: bool = False,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_dice') -> None:
        super().__init__()
        self.smooth = smooth
        self.exponent = exponent
        self.use_sigmoid = use_sigmoid
        self.loss_weight = loss_weight
        self.loss_name = loss_name

    @float32_loss
    def forward(self, pred: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        _check_shapes(self.loss_name, pred, target)
        if self.use_sigmoid:
            pred = torch.sigmoid(pred)
        pred = pred.flatten(1)
        target = target.to(pred.dtype).flatten(1)
        numerator = 2 * (pred * target).sum(1) + self.smooth
        denominator = (pred.pow(self.exponent) +
                       target.pow(self.exponent)).sum(1) + self.smooth
        return self.loss_weight * (1 - numerator / denominator).mean()


@MODELS.register_module()
class UncertaintyAwareLoss(nn.Module):
    """Uncertainty-aware loss (ZoomNet, used by RUN):
    ``mean(1 − |2σ(x) − 1|²)``, lowest where the prediction is confident,
    times a ramp coefficient.

    RUN ramps the coefficient within every epoch,
    ``coef = (1 − cos(π · i / N)) / 2`` for iteration i = 1..N of an epoch of N
    iterations (so it restarts near 0 at each epoch). Here ``i`` and ``N``
    come from MMEngine's message hub: ``N = ramp_iters`` if given (use this
    with an iteration-based loop), else the epoch length
    ``max_iters / max_epochs`` of an epoch-based loop. Outside a training
    loop (no iteration recorded) the coefficient is 1.

    Args:
        ramp_iters (int, optional): Ramp period N in iterations.
        ramp (bool): False keeps the coefficient at 1.
        loss_weight (float): Weight of the loss (RUN: 2).
        loss_name (str): Name in the log.
    """

    def __init__(self,
                 ramp_iters: Optional[int] = None,
                 ramp: bool = True,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_ual') -> None:
        super().__init__()
        if ramp_iters is not None and ramp_iters < 1:
            raise ValueError(f'ramp_iters must be >= 1, got {ramp_iters}')
        self.ramp_iters = ramp_iters
        self.ramp = ramp
        self.loss_weight = loss_weight
        self.loss_name = loss_name

    @staticmethod
    def cosine_ramp(step: int, period: int) -> float:
        """``(1 − cos(π t)) / 2`` with ``t = ((step mod N) + 1) / N``."""
        t = (step % period + 1) / period
        return (1 - math.cos(math.pi * t)) / 2

    def coefficient(self) -> float:
        if not self.ramp:
            return 1.0
        hub = MessageHub.get_current_instance()
        step = hub.get_info('iter')
        if step is None:
            return 1.0
        period = self.ramp_iters
        if period is None:
            max_iters, max_epochs = (hub.get_info('max_iters'),
                                     hub.get_info('max_epochs'))
            if not max_iters or not max_epochs:
                raise ValueError(
                    f'{self.loss_name}: the ramp period is the epoch length, '
                    'but the training loop has no epochs (iteration-based); '
                    'set ramp_iters')
            period = max(1, max_iters // max_epochs)
        return self.cosine_ramp(step, period)

    @float32_loss
    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        confidence = (2 * torch.sigmoid(logits) - 1).abs().pow(2)
        return self.loss_weight * self.coefficient() * (1 - confidence).mean()
