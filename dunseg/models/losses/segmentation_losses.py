"""Multi-class classification / segmentation losses of VL-DUN.

- :class:`FocalLoss`: Lin et al.'s focal loss, VL-DUN's modality-prior loss
  (Eq. 3): ``L = −α (1 − p_t)^γ log p_t`` with ``p_t`` the softmax
  probability of the true class, averaged over samples (and pixels).
- :class:`CrossEntropyLoss`: softmax cross-entropy over class logits
  (the degradation prior's image–text contrastive loss, Sec. 3.3.3, and the
  segmentation CE).
- :class:`MultiClassDiceLoss`: soft Dice of the softmax probabilities against
  one-hot targets, per image and class, ``1 − (2Σpg + s) / (Σp + Σg + s)``,
  averaged over classes (background included unless told) and images.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from dunseg.registry import MODELS

from .utils import float32_loss


def _check_logits_target(name: str, logits: torch.Tensor,
                         target: torch.Tensor) -> torch.Tensor:
    """Class-index targets of shape logits.shape without dim 1, as long."""
    if target.dim() == logits.dim() and target.shape[1] == 1:
        target = target[:, 0]  # (N, 1, H, W) masks as packed
    expected = (logits.shape[0], ) + tuple(logits.shape[2:])
    if tuple(target.shape) != expected:
        raise ValueError(
            f'{name}: logits {tuple(logits.shape)} (N, classes, ...) need '
            f'class-index targets of shape {expected}, got '
            f'{tuple(target.shape)}')
    target = target.long()
    if target.numel():
        # checked on the device without waiting for it (as torch.quantile
        # checks q on CUDA): raises here on a CPU, as a device-side assert
        # on an accelerator
        torch._assert_async(
            ((target >= 0) & (target < logits.shape[1])).all(),
            f'{name}: targets hold labels outside 0..{logits.shape[1] - 1} '
            f'but there are {logits.shape[1]} classes; num_classes of the '
            "head must cover the dataset's labels")
    return target


@MODELS.register_module()
class FocalLoss(nn.Module):
    """``−α (1 − p_t)^γ log p_t`` on softmax logits (VL-DUN Eq. 3).

    Args:
        gamma (float): Focusing parameter γ (2, Lin et al.).
        alpha (float): Scale α (0.25 in Lin et al.'s detector; 1 keeps the
            loss on the cross-entropy's scale, our default as the paper
            gives no value).
        loss_weight (float): Weight of the loss.
        loss_name (str): Name in the log.
    """

    def __init__(self,
                 gamma: float = 2.0,
                 alpha: float = 1.0,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_focal') -> None:
        super().__init__()
        if gamma < 0:
            raise ValueError(f'FocalLoss: gamma must be >= 0, got {gamma}')
        self.gamma = gamma
        self.alpha = alpha
        self.loss_weight = loss_weight
        self.loss_name = loss_name

    @float32_loss
    def forward(self, logits: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        target = _check_logits_target(self.loss_name, logits, target)
        log_p = F.log_softmax(logits.float(), dim=1)
        log_pt = log_p.gather(1, target.unsqueeze(1)).squeeze(1)
        pt = log_pt.exp()
        loss = -self.alpha * (1 - pt).pow(self.gamma) * log_pt
        return self.loss_weight * loss.mean()


@MODELS.register_module()
class CrossEntropyLoss(nn.Module):
    """Softmax cross-entropy over dim 1 against class indices.

    Args:
        label_smoothing (float): Label smoothing.
        ignore_index (int): Target value ignored.
        loss_weight (float): Weight of the loss.
        loss_name (str): Name in the log.
    """

    def __init__(self,
                 label_smoothing: float = 0.0,
                 ignore_index: int = -100,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_ce') -> None:
        super().__init__()
        self.label_smoothing = label_smoothing
        self.ignore_index = ignore_index
        self.loss_weight = loss_weight
        self.loss_name = loss_name

    @float32_loss
    def forward(self, logits: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        target = _check_logits_target(self.loss_name, logits, target)
        return self.loss_weight * F.cross_entropy(
            logits.float(), target, ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing)


@MODELS.register_module()
class MultiClassDiceLoss(nn.Module):
    """Soft Dice on softmax probabilities against one-hot class indices.

    Per image n and class c: ``D = (2 Σ p g + s) / (Σ p + Σ g + s)``; the
    loss is ``1 − mean D`` over the classes kept and the images.

    Args:
        smooth (float): s (1).
        include_background (bool): Score class 0 too.
        loss_weight (float): Weight of the loss.
        loss_name (str): Name in the log.
    """

    def __init__(self,
                 smooth: float = 1.0,
                 include_background: bool = True,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_dice') -> None:
        super().__init__()
        self.smooth = smooth
        self.include_background = include_background
        self.loss_weight = loss_weight
        self.loss_name = loss_name

    @float32_loss
    def forward(self, logits: torch.Tensor, target: torch.Tensor,
                class_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``class_mask`` (N, classes) bool, optional: classes scored per
        image (the others are left out of the mean)."""
        target = _check_logits_target(self.loss_name, logits, target)
        num_classes = logits.shape[1]
        prob = logits.float().softmax(dim=1).flatten(2)  # (N, C, P)
        # one-hot by comparison: F.one_hot reads the labels' range back to
        # the host on a CPU (the range is checked above, asynchronously)
        classes = torch.arange(num_classes, device=target.device)
        one_hot = (target.flatten(1)[:, None] == classes[None, :, None]).to(
            prob.dtype)  # (N, C, P)
        inter = (prob * one_hot).sum(-1)
        dice = (2 * inter + self.smooth) / (
            prob.sum(-1) + one_hot.sum(-1) + self.smooth)  # (N, C)
        keep = torch.ones_like(dice)
        if class_mask is not None:
            keep = keep * class_mask.to(keep.device, non_blocking=True)
        if not self.include_background:
            keep[:, 0] = 0
        # the mean over the kept entries as a masked sum: no branch on and
        # no indexing by a mask the host would wait for; nothing kept gives
        # 0 (with a graph, so backward still runs)
        kept = keep.sum()
        loss = ((1 - dice) * keep).sum() / kept.clamp(min=1)
        return self.loss_weight * loss


__all__ = ['FocalLoss', 'CrossEntropyLoss', 'MultiClassDiceLoss']
