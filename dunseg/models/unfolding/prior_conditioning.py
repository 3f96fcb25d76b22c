"""A degradation prior for the RPCA unfolding (RPCANet / RPCANet+).

RPCANet (Wu et al., WACV 2024) and RPCANet+ (Xiu et al., arXiv
2509.08205) model an infrared frame as D = B + T (+ N) and learn nothing
about how the frame was degraded. :class:`PriorModulatedRPCA` lets a
degradation vector d (a CLIP or DA-CLIP prior head's ``embedding``) steer
every stage, the way NUN's DeRUN conditions its operators (He et al.,
arXiv 2511.18164, Sec. 4.2): before stage k the image the stage reads is
modulated

    D^{k−1} ← σ_k(d) ⊙ D^{k−1} + μ_k(d)

with σ = 1 + conv3(li(d)), μ = conv3(li(d)) (li(d) reshaped to a small map
and resized to the frame; :class:`~dunseg.models.unfolding.derun.
DegradationModulation`). The linear layers start at zero, so an untrained
wrapper computes exactly what the wrapped unfolding computes; where the
modulation acts (on D, not on the B / T / N modules inside the stage) is
our choice, which keeps every stage design that plugs into
:class:`~dunseg.models.unfolding.RPCAUnfolding` (``stage_cfg``) usable.
"""
from typing import Dict, List, Optional

import torch
from mmengine.model import BaseModule
from torch import nn

from dunseg.registry import MODELS

from .derun import DegradationModulation

State = Dict[str, torch.Tensor]


@MODELS.register_module()
class PriorModulatedRPCA(BaseModule):
    """An RPCA unfolding whose stages read a prior-modulated image.

    ``forward(inputs, prior)`` with ``inputs`` (N, 1, H, W) and ``prior``
    (N, prior_dim) returns the wrapped unfolding's states (every stage's
    ``{'B', 'T', ['N'], 'D'}``), so ``StateMaskHead`` and the
    reconstruction loss read them as before.

    Args:
        unfolding (dict): The RPCA backbone (``RPCANet``, ``RPCANetPlus``
            or ``RPCAUnfolding``); it keeps its own init.
        prior_dim (int): Length of d (the prior head's ``embed_dim``).
        prior_spatial (int): Side of the map li(d) is reshaped to.
        init_cfg (dict, optional): MMEngine init config of the modulations.
    """

    def __init__(self,
                 unfolding: dict,
                 prior_dim: int = 512,
                 prior_spatial: int = 4,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.unfolding = MODELS.build(unfolding)
        for name in ('stages', 'init_state', 'with_noise',
                     'carry_noise_across_stages'):
            if not hasattr(self.unfolding, name):
                raise TypeError(
                    'PriorModulatedRPCA: unfolding must be an RPCA unfolding '
                    f'(RPCANet, RPCANetPlus, RPCAUnfolding); '
                    f'{type(self.unfolding).__name__} has no {name!r}')
        self.prior_dim = int(prior_dim)
        self.modulations = nn.ModuleList(
            DegradationModulation(1, self.prior_dim, prior_spatial)
            for _ in self.unfolding.stages)

    @property
    def num_stages(self) -> int:
        return len(self.unfolding.stages)

    def forward(self, inputs: torch.Tensor,
                prior: Optional[torch.Tensor] = None) -> List[State]:
        if inputs.dim() != 4 or inputs.shape[1] != 1:
            raise ValueError(
                'PriorModulatedRPCA expects single-channel images of shape '
                f'(N, 1, H, W), got {tuple(inputs.shape)}')
        if prior is None:
            raise ValueError(
                'PriorModulatedRPCA needs the degradation vector: forward('
                f'inputs, prior) with prior (N, {self.prior_dim}); build the '
                'architecture with a prior head (PriorUnfoldingSegmentor)')
        if prior.dim() != 2 or prior.shape != (len(inputs), self.prior_dim):
            raise ValueError(
                f'PriorModulatedRPCA: prior must have shape ({len(inputs)}, '
                f'{self.prior_dim}) (batch, prior_dim), got '
                f'{tuple(prior.shape)}; set prior_dim to the prior head\'s '
                'embed_dim, or reduce a (N, V, E) prior with '
                'PriorEmbeddingAdapter')
        unfolding = self.unfolding
        state = unfolding.init_state(inputs)
        states = []
        for stage, modulation in zip(unfolding.stages, self.modulations):
            sigma, mu = modulation(prior.to(inputs.dtype), inputs)
            state = dict(state, D=sigma * state['D'] + mu)
            out = stage(state)
            missing = {'B', 'T', 'D'} - set(out)
            if missing:
                raise KeyError(f'{type(stage).__name__} returned '
                               f'{sorted(out)}; an RPCA stage must return B, '
                               'T and D')
            states.append(out)
            state = dict(D=out['D'], T=out['T'])
            if unfolding.with_noise and 'N' in out:
                state['N'] = (out['N']
                              if unfolding.carry_noise_across_stages else
                              torch.zeros_like(out['N']))
        return states


__all__ = ['PriorModulatedRPCA']
