"""Baseline selectors for ablations: the last iterate and the oracle."""
from typing import Optional

import torch

from dunseg.registry import MODELS

from .base import BaseSelector
from .quality_data import psnr


@MODELS.register_module()
class LastSelector(BaseSelector):
    """Always the final iterate (NUN without IQA selection; scores are the
    iterate indices 0..S-1)."""

    def score(self, candidates: torch.Tensor,
              reference: Optional[torch.Tensor] = None) -> torch.Tensor:
        steps = candidates.shape[1]
        order = torch.arange(steps, dtype=torch.float32,
                             device=candidates.device)
        return order.expand(len(candidates), steps)


@MODELS.register_module()
class OracleSelector(BaseSelector):
    """Full-reference oracle: the candidate with the highest PSNR against
    the clean image ``reference`` (B, C, H, W). An upper bound for
    ablations; it cannot run where the clean image is unknown.

    Args:
        max_db (float): PSNR given to a candidate identical to the
            reference (finite, so that scores stay comparable).
    """

    def __init__(self, max_db: float = 100.0) -> None:
        super().__init__()
        self.max_db = float(max_db)

    def score(self, candidates: torch.Tensor,
              reference: Optional[torch.Tensor] = None) -> torch.Tensor:
        if reference is None:
            raise ValueError(
                'OracleSelector needs the clean image: call '
                'selector(candidates, reference=clean) with clean of shape '
                '(B, C, H, W)')
        if reference.shape != candidates.shape[:1] + candidates.shape[2:]:
            raise ValueError(
                f'OracleSelector: reference shape {tuple(reference.shape)} '
                f'does not match candidates {tuple(candidates.shape)}; '
                'expected (B, C, H, W)')
        return psnr(candidates, reference[:, None], self.max_db)


__all__ = ['LastSelector', 'OracleSelector']
