"""DA-CLIP's training loss (Luo et al., ICLR 2024; ``DaClipLoss`` in
daclip-uir ``da-clip/src/open_clip/loss.py``)."""
from typing import Dict

import torch
import torch.nn.functional as F
from torch import nn

from dunseg.registry import MODELS

from .utils import float32_loss


@float32_loss
def clip_contrastive_loss(image_features: torch.Tensor,
                          text_features: torch.Tensor,
                          logit_scale: torch.Tensor) -> torch.Tensor:
    """open_clip's ``ClipLoss`` on one process.

    ``logits = s · norm(image) · norm(text)ᵀ``; the i-th image's positive
    is the i-th text: ``(CE(logits, i) + CE(logitsᵀ, i)) / 2``.

    Args:
        image_features (Tensor): (N, E), normalised here.
        text_features (Tensor): (N, E), normalised here.
        logit_scale (Tensor): the multiplier ``s`` (already exponentiated).
    """
    if image_features.shape != text_features.shape:
        raise ValueError(
            f'image features {tuple(image_features.shape)} and text features '
            f'{tuple(text_features.shape)} must have the same (N, E) shape: '
            'one caption per image')
    image = F.normalize(image_features, dim=-1)
    text = F.normalize(text_features, dim=-1)
    logits = logit_scale * image @ text.T
    labels = torch.arange(len(image), device=image.device)
    return (F.cross_entropy(logits, labels) +
            F.cross_entropy(logits.T, labels)) / 2


@MODELS.register_module()
class DACLIPLoss(nn.Module):
    """Content contrastive + degradation contrastive, one logit scale.

    ``L = w_c · CLIP(content, caption) + w_d · CLIP(degradation, word)``

    as ``DaClipLoss.forward`` of the official code (both weights 1 there).
    In a batch several images share a degradation word, so the degradation
    term treats identical words as negatives; the official loss does the
    same and plateaus while classification still works (daclip-uir issues
    #34, #114). ``dedup_degradation=True`` instead counts every image with
    the same word as a positive (multi-positive soft targets), a departure
    that is off by default.

    Args:
        content_weight (float): ``w_c``.
        degradation_weight (float): ``w_d``.
        dedup_degradation (bool): see above.
    """

    def __init__(self,
                 content_weight: float = 1.0,
                 degradation_weight: float = 1.0,
                 dedup_degradation: bool = False) -> None:
        super().__init__()
        self.content_weight = float(content_weight)
        self.degradation_weight = float(degradation_weight)
        self.dedup_degradation = bool(dedup_degradation)

    @staticmethod
    def _multi_positive(image: torch.Tensor, text: torch.Tensor,
                        word_ids: torch.Tensor,
                        logit_scale: torch.Tensor) -> torch.Tensor:
        logits = logit_scale * F.normalize(image, dim=-1) @ F.normalize(
            text, dim=-1).T
        same = (word_ids[:, None] == word_ids[None, :]).float()
        target = same / same.sum(dim=1, keepdim=True)
        return (F.cross_entropy(logits, target) +
                F.cross_entropy(logits.T, target)) / 2

    @float32_loss
    def forward(self,
                content_features: torch.Tensor,
                caption_features: torch.Tensor,
                degradation_features: torch.Tensor,
                word_features: torch.Tensor,
                logit_scale: torch.Tensor,
                word_ids: torch.Tensor = None) -> Dict[str, torch.Tensor]:
        """All features (N, E), one row per image; ``logit_scale`` already
        exponentiated; ``word_ids`` (N,) only for ``dedup_degradation``.

        Returns:
            dict: ``loss_content`` and ``loss_degradation`` (weighted).
        """
        loss_content = clip_contrastive_loss(content_features,
                                             caption_features, logit_scale)
        if self.dedup_degradation:
            if word_ids is None:
                raise ValueError('dedup_degradation needs word_ids: the '
                                 'degradation word index of every image')
            loss_degradation = self._multi_positive(
                degradation_features, word_features, word_ids, logit_scale)
        else:
            loss_degradation = clip_contrastive_loss(
                degradation_features, word_features, logit_scale)
        return dict(
            loss_content=self.content_weight * loss_content,
            loss_degradation=self.degradation_weight * loss_degradation)


__all__ = ['DACLIPLoss', 'clip_contrastive_loss']
