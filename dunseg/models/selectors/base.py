"""The selector contract (NUN's bi-directional unfolding interaction picks
the best DeRUN iterate with an image-quality score, He et al., arXiv
2511.18164, Sec. 4.3).

``forward(candidates, reference=None)`` with candidates (B, S, C, H, W) in
[0, 1] (S candidate restorations of each of B images) returns
``(index, scores)``: ``index`` (B,) long, the chosen candidate of every
image, and ``scores`` (B, S), higher = better. It runs under
``torch.no_grad``: selection is a discrete choice and no gradient flows
through it (NUN trains the chosen and the second-best restorations' effect
through its consistency loss instead). ``reference`` (B, C, H, W), the clean
image, is read only by full-reference selectors (the oracle).
``observation`` (B, C, H, W), the degraded input, is passed to ``score``
only by selectors that set ``needs_observation = True`` (reduced-reference
ones, :class:`~dunseg.models.selectors.InputAwareQualitySelector`), so a
selector written against the two-argument ``score`` keeps working.
"""
from typing import Optional, Tuple

import torch
from torch import nn


def check_candidates(candidates: torch.Tensor, who: str) -> None:
    if not isinstance(candidates, torch.Tensor) or candidates.dim() != 5:
        shape = getattr(candidates, 'shape', None)
        raise ValueError(
            f'{who}: candidates must be a (B, S, C, H, W) tensor of S '
            f'candidate images per sample, got shape {tuple(shape or ())}; '
            'stack the iterates with torch.stack(iterates, dim=1)')
    if candidates.shape[1] < 1:
        raise ValueError(f'{who}: no candidates (S = 0)')


def gather_candidates(candidates: torch.Tensor,
                      index: torch.Tensor) -> torch.Tensor:
    """The chosen (B, C, H, W) images of (B, S, C, H, W) candidates."""
    return candidates[torch.arange(len(candidates),
                                   device=candidates.device), index]


class BaseSelector(nn.Module):
    """A selector: subclasses implement :meth:`score` -> (B, S) scores,
    higher = better. Ties go to the *later* candidate (a further iterate),
    so a constant score selects the last one."""

    #: True for selectors whose ``score`` also reads the degraded input
    #: (``score(candidates, reference, observation)``).
    needs_observation = False

    def score(self, candidates: torch.Tensor,
              reference: Optional[torch.Tensor] = None) -> torch.Tensor:
        raise NotImplementedError

    def forward(self,
                candidates: torch.Tensor,
                reference: Optional[torch.Tensor] = None,
                observation: Optional[torch.Tensor] = None
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        check_candidates(candidates, type(self).__name__)
        with torch.no_grad():
            if self.needs_observation:
                scores = self.score(candidates, reference, observation)
            else:
                scores = self.score(candidates, reference)
            scores = scores.float()
        if scores.shape != candidates.shape[:2]:
            raise RuntimeError(
                f'{type(self).__name__}.score returned shape '
                f'{tuple(scores.shape)}, expected (B, S) = '
                f'{tuple(candidates.shape[:2])}')
        # argmax of the reversed scores: the last of equal maxima
        steps = scores.shape[1]
        index = steps - 1 - scores.flip(1).argmax(dim=1)
        return index.long(), scores


__all__ = ['BaseSelector', 'check_candidates', 'gather_candidates']
