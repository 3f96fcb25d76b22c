"""NUN: the nested segmentation unfolding network.

He, Zhang, Zhang, Xiao, Fan, Farsiu, "Nested Unfolding Network for
Real-World Concealed Object Segmentation", ECCV 2026 (arXiv 2511.18164).
The paper points to github.com/ChunmingHe/NUN for code; none has been
published there. Where the paper is silent, the choice below follows its
equations and RUN's official code (github.com/ChunmingHe/RUN;
:mod:`dunseg.models.unfolding.run`, on which NUN builds) and is a
constructor argument.

A degraded image Y holds a concealed object. NUN alternates, over K = 4
stages of an outer *segmentation-oriented* unfolding (SODUN), a mask step, a
background step and an inner *degradation-resistant* unfolding (DeRUN) that
restores the image the next stage segments. SODUN minimises

    L(F, B) = ½ ||X − F − B||² + β φ(F) + λ ϕ(B),   F = X ⊙ M

on the stage's restored image X (the paper's Y replaced by the selected
restoration X_{k−1}, X_0 = Y), with the steps (paper Sec. 4.1)::

    M̂_k = M_{k−1} − α_M · X_{k−1} ⊙ (X_{k−1} ⊙ M_{k−1} + B_{k−1} − X_{k−1})
    M_k  = prox_M(M̂_k; E(X_{k−1}), E(Y))          visual state-space blocks
    B̂_k = B_{k−1} − α_B · (B_{k−1} + X_{k−1} ⊙ M_k − X_{k−1})
    B_k  = prox_B(B̂_k)                             3-level U-shaped net

DeRUN (:class:`~dunseg.models.unfolding.derun.DeRUN`, paper Sec. 4.2) then
restores ``Y = D X + N`` with an unknown D in N_k iterations
(N = {4, 3, 3, 2}), guided by a degradation vector d. The bi-directional
unfolding interaction (BUI, Sec. 4.3) scores every iterate X_{k,1..N_k} with
an image-quality selector and passes the best one, X_k, to the next stage;
the second best feeds the cross-stage consistency loss.

Choices where the paper is silent (all constructor arguments):

- Stage k works on context level 5 − k of RUN's aggregation (stride 32 at
  stage 1 down to stride 4 at stage 4), as RUN's stages do.
- ``prox_M``: the gradient-step mask M̂_k, as logits, is the residual base of
  RUN's reverse-attention edge unit, whose features fuse (1x1 conv) the
  original image's context features (RUN's full aggregation of E(Y)) with
  the restored image's encoder features at the stage's level (a 1x1
  projection of E(X)), refined by ``num_vss_blocks`` visual state-space
  blocks. ``restored_features``: the encoder sees the stage-1 restoration
  once and its features serve stages 2..K (``'first_restoration'``, the
  default), or every stage's input restoration (``'every_stage'``), or
  never (``'none'``, an ablation: E(Y) stands in for E(X)). The projection
  instead of a second aggregation, and DeRUN's light widths in the R50
  config, are what put NUN-R50 at the paper's 51.72 G (configs/nun).
- ``prox_B``: RUN's invertible-coupling U-net on cat[σ(M_k), B̂_k, X_{k−1}],
  shared by all stages as in RUN.
- Masks are logits; they enter the data terms as σ(M).
- DeRUN's own choices (and its ``data_anchor`` departure) are listed in
  :mod:`dunseg.models.unfolding.derun`.
- The consistency loss compares the next stage's mask computed from the
  best and from the second-best restoration (:class:`NUN` returns both).

Departures from the paper, off by default. ``select_stage_input=True`` adds
the stage's input X_{k,0} = X_{k−1} (at stage 1 the degraded Y) to the
candidates, so the selector can keep it when no iterate scores higher
instead of passing on a restoration that made the image worse. It adds no
parameters, so it can be switched on at test time.
``detach_restoration=True`` cuts the gradient from segmentation into
restoration: SODUN's steps and the encoder see each selected restoration
(and the second best) detached, so the mask losses train the segmentation
and DeRUN learns from its restoration loss alone. It tests whether the
joint objective is what pulls DeRUN's restorations off the clean scene
(configs/nun/README.md).
"""
import math
from typing import Callable, Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from dunseg.registry import MODELS

from ..selectors.base import gather_candidates
from .run_blocks import (
    ContextModule,
    CrossLevelAggregation,
    GlobalPriorModule,
    IntraLevelAggregation,
    InvertibleCouplingUNet,
    ReverseEdgeUnit,
)

State = Dict[str, torch.Tensor]


# ------------------------------------------------------------------ SODUN
class MaskProximal(nn.Module):
    """prox_M of one SODUN stage: VSS blocks on the fused features of the
    restored and the original image, then RUN's reverse-attention edge unit
    around the gradient-step mask (logits) as residual base."""

    def __init__(self, channels: int, vss_cfg: Optional[dict],
                 num_vss_blocks: int) -> None:
        super().__init__()
        self.fuse = nn.Conv2d(2 * channels + 1, channels, 1)
        blocks = []
        if vss_cfg is not None:
            for _ in range(num_vss_blocks):
                cfg = dict(vss_cfg)
                cfg['hidden_dim'] = channels
                blocks.append(MODELS.build(cfg))
        self.state_space = nn.Sequential(*blocks)
        self.read_out = ReverseEdgeUnit(channels, channels)

    def forward(self, mask_hat_logits: torch.Tensor,
                restored: torch.Tensor, original: torch.Tensor):
        base = F.interpolate(mask_hat_logits, size=restored.shape[2:],
                             mode='bilinear', align_corners=False)
        z = self.fuse(torch.cat([restored, original, torch.sigmoid(base)], 1))
        return self.read_out(self.state_space(z), base)


def mask_gradient_step(mask: torch.Tensor, background: torch.Tensor,
                       restored: torch.Tensor,
                       step: torch.Tensor) -> torch.Tensor:
    """SODUN's mask gradient step on ½||X − X ⊙ M − B||² (probabilities)::

        M̂_k = M_{k−1} − α_M · X ⊙ (X ⊙ M_{k−1} + B_{k−1} − X)

    The data term sums over colour channels; the gradient is averaged over
    them so that α_M does not depend on the channel count.
    """
    gradient = restored * (restored * mask + background - restored)
    return mask - step * gradient.mean(dim=1, keepdim=True)


def background_gradient_step(mask: torch.Tensor, background: torch.Tensor,
                             restored: torch.Tensor,
                             step: torch.Tensor) -> torch.Tensor:
    """SODUN's background gradient step (probabilities M_k)::

        B̂_k = B_{k−1} − α_B · (B_{k−1} + X ⊙ M_k − X)
    """
    return background - step * (background + restored * mask - restored)


def _logit(prob: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    prob = prob.clamp(eps, 1 - eps)
    return torch.log(prob) - torch.log1p(-prob)


@MODELS.register_module()
class NUN(BaseModule):
    """NUN's nested unfolding: SODUN stages, each with a DeRUN inside.

    ``forward(image, encode, prior=None, prior_fn=None, selector=None,
    reference=None, with_second_best=False)``:

    - ``image``: the degraded input Y, (N, 3, H, W) in [0, 1];
    - ``encode``: callable image -> four encoder feature maps (the
      architecture's encoder, ImageNet normalisation included);
    - ``prior``: the degradation vector d of Y (N, D), or ``prior_fn`` to
      recompute it from every DeRUN iterate's input (None and None: the
      implicit variant);
    - ``selector``: the BUI selector (``forward(candidates, reference)`` ->
      ``(index, scores)``); None takes the last iterate;
    - ``with_second_best``: also compute each stage k >= 2's mask from the
      second-best restoration of stage k−1 (``mask_second``), for the
      cross-stage consistency loss.

    Returns the states: ``{mask, background, image}`` (M_0, B_0, X_0 = Y)
    then per stage ``{mask, background, edge, image, iterates, scores,
    selected, first_iterate}`` (``image`` the selected X_k, ``iterates``
    the candidates X_{k,first_iterate..N_k} (N, S, 3, H, W), ``scores``
    (N, S), ``selected`` an index into them; ``first_iterate`` is 1, or 0
    with ``select_stage_input``). Masks are logits at the input size.

    Args:
        in_channels (sequence of int): The encoder's four level widths.
        channels (int): Width of the context features and mask proximals.
        inner_iterations (sequence of int): N_k per stage; its length is K.
        inner_cfg (dict): The inner restorer (``DeRUN``); ``num_iterations``
            is set per stage.
        vss_cfg (dict, optional): The VSS block of the mask proximal;
            ``hidden_dim`` is filled in. None = no state-space blocks (an
            ablation, the paper's "CNN instead of VSS").
        num_vss_blocks (int): VSS blocks per stage.
        background_channels (int): Width of the background U-net.
        share_background_net (bool): One U-net for all stages (RUN).
        restored_features (str): ``'first_restoration'``, ``'every_stage'``
            or ``'none'`` (module docstring).
        mask_step_init, background_step_init (float): α_M, α_B.
        select_stage_input (bool): Also offer the stage's input X_{k−1} to
            the selector (a departure from the paper, which selects among
            the iterates X_{k,1..N_k}; module docstring). False = paper.
        detach_restoration (bool): The mask and background steps and the
            encoder see each restoration without its gradient, so DeRUN
            learns from the restoration loss alone and the mask losses
            cannot reshape the image (an ablation of the joint objective,
            not in the paper; module docstring). False = paper.
    """

    def __init__(self,
                 in_channels: Sequence[int] = (256, 512, 1024, 2048),
                 channels: int = 64,
                 inner_iterations: Sequence[int] = (4, 3, 3, 2),
                 inner_cfg: dict = dict(type='DeRUN', prior_dim=512),
                 vss_cfg: Optional[dict] = dict(
                     type='VSSBlock', d_state=16, expand=2.0, d_conv=3),
                 num_vss_blocks: int = 1,
                 background_channels: int = 8,
                 share_background_net: bool = True,
                 restored_features: str = 'first_restoration',
                 image_channels: int = 3,
                 mask_step_init: float = 1.0,
                 background_step_init: float = 0.5,
                 select_stage_input: bool = False,
                 detach_restoration: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(in_channels) != 4:
            raise ValueError('NUN needs four encoder levels (strides 4, 8, '
                             f'16, 32), got in_channels={tuple(in_channels)}')
        if not 1 <= len(inner_iterations) <= 4:
            raise ValueError('NUN: inner_iterations gives N_k per stage, '
                             'one to four stages (one per encoder level), '
                             f'got {tuple(inner_iterations)}')
        modes = ('first_restoration', 'every_stage', 'none')
        if restored_features not in modes:
            raise ValueError(f'NUN: restored_features must be one of {modes}, '
                             f'got {restored_features!r}')
        self.num_stages = len(inner_iterations)
        self.restored_features = restored_features
        self.select_stage_input = bool(select_stage_input)
        self.detach_restoration = bool(detach_restoration)
        self.context = ContextModule(in_channels, channels)
        self.intra = IntraLevelAggregation(channels, channels)
        self.cross = CrossLevelAggregation(channels)
        self.fuse_levels = nn.Conv2d(channels * 2, channels, 1)
        self.prior_module = GlobalPriorModule(in_channels=in_channels[-1])
        # E(X) at the stages' levels, projected to the context width
        self.restored_projections = nn.ModuleList(
            nn.Conv2d(in_channels[self.level_of(stage)], channels, 1)
            for stage in range(1, self.num_stages + 1))
        self.mask_prox = nn.ModuleList(
            MaskProximal(channels, vss_cfg, num_vss_blocks)
            for _ in range(self.num_stages))
        num_nets = 1 if share_background_net else self.num_stages
        self.background_prox = nn.ModuleList(
            InvertibleCouplingUNet(2 * image_channels + 1,
                                   background_channels, image_channels)
            for _ in range(num_nets))
        self.mask_steps = nn.Parameter(
            torch.full((self.num_stages, ), float(mask_step_init)))
        self.background_steps = nn.Parameter(
            torch.full((self.num_stages, ), float(background_step_init)))
        self.inner = nn.ModuleList()
        for iterations in inner_iterations:
            cfg = dict(inner_cfg)
            cfg['num_iterations'] = int(iterations)
            self.inner.append(MODELS.build(cfg))

    @property
    def stage_names(self):
        return ('prior', ) + tuple(f'stage{k}'
                                   for k in range(1, self.num_stages + 1))

    # ------------------------------------------------------------ pieces
    def aggregate(self, features: Sequence[torch.Tensor]
                  ) -> List[torch.Tensor]:
        """RUN's context features F_1..F_4 (ETM, then IAF + CAF top-down)."""
        context = self.context(features)
        intra = [self.intra(f) for f in context]
        fused = [None, None, None, context[3]]
        coarse = intra[3]
        for level in (2, 1, 0):
            cross = self.cross(coarse, intra[level])
            fused[level] = self.fuse_levels(torch.cat([cross, intra[level]],
                                                      1))
            coarse = fused[level]
        return fused

    @staticmethod
    def level_of(stage: int) -> int:
        """Context level of stage k (1-based): coarsest first, as RUN."""
        return 4 - stage

    def mask_step(self, stage: int, mask_prev: torch.Tensor,
                  background_prev: torch.Tensor, restored: torch.Tensor,
                  restored_features, original_levels):
        """M̂_k (:func:`mask_gradient_step`), then M_k = prox_M(M̂_k);
        returns the mask logits and the edge map at the input size."""
        mask_hat = mask_gradient_step(torch.sigmoid(mask_prev),
                                      background_prev, restored,
                                      self.mask_steps[stage - 1])
        level = self.level_of(stage)
        restored_level = self.restored_projections[stage - 1](
            restored_features[level])
        logits, edge = self.mask_prox[stage - 1](
            _logit(mask_hat), restored_level, original_levels[level])
        size = restored.shape[2:]
        return (F.interpolate(logits, size=size, mode='bilinear',
                              align_corners=False),
                F.interpolate(edge, size=size, mode='bilinear',
                              align_corners=False))

    def background_step(self, stage: int, mask: torch.Tensor,
                        background_prev: torch.Tensor,
                        restored: torch.Tensor) -> torch.Tensor:
        """B̂_k (:func:`background_gradient_step`), then
        B_k = prox_B(cat[σ(M_k), B̂_k, X_{k−1}])."""
        prob = torch.sigmoid(mask)
        background_hat = background_gradient_step(
            prob, background_prev, restored,
            self.background_steps[stage - 1])
        net = self.background_prox[min(stage - 1,
                                       len(self.background_prox) - 1)]
        return net(torch.cat([prob, background_hat, restored], 1))

    # ----------------------------------------------------------- forward
    def forward(self,
                image: torch.Tensor,
                encode: Callable[[torch.Tensor], Sequence[torch.Tensor]],
                prior: Optional[torch.Tensor] = None,
                prior_fn: Optional[Callable] = None,
                selector: Optional[nn.Module] = None,
                reference: Optional[torch.Tensor] = None,
                with_second_best: bool = False) -> List[State]:
        original_features = encode(image)
        original_levels = self.aggregate(original_features)
        mask = F.interpolate(self.prior_module(original_features[3]),
                             size=image.shape[2:], mode='bilinear',
                             align_corners=False)
        background = (1 - torch.sigmoid(mask)) * image
        restored = image
        restored_features = original_features  # E(X_0) = E(Y)
        second_best = None
        states: List[State] = [
            dict(mask=mask, background=background, image=image)
        ]
        for stage in range(1, self.num_stages + 1):
            # what segmentation sees of the restoration
            seen = restored.detach() if self.detach_restoration else restored
            if stage > 1 and (self.restored_features == 'every_stage' or (
                    stage == 2 and
                    self.restored_features == 'first_restoration')):
                restored_features = encode(seen)
            new_mask, edge = self.mask_step(stage, mask, background, seen,
                                            restored_features,
                                            original_levels)
            state: State = {}
            if with_second_best and second_best is not None:
                state['mask_second'], _ = self.mask_step(
                    stage, mask, background,
                    second_best.detach() if self.detach_restoration
                    else second_best, restored_features, original_levels)
            new_background = self.background_step(stage, new_mask,
                                                  background, seen)
            iterates = self.inner[stage - 1](
                restored, image, torch.sigmoid(new_mask), new_background,
                prior=prior, prior_fn=prior_fn)
            if self.select_stage_input:
                iterates = [restored] + list(iterates)
            candidates = torch.stack(iterates, dim=1)
            if selector is None:
                index = torch.full((len(image), ), len(iterates) - 1,
                                   dtype=torch.long, device=image.device)
                scores = torch.arange(
                    len(iterates), dtype=image.dtype,
                    device=image.device).expand(len(image), -1)
            elif getattr(selector, 'needs_observation', False):
                index, scores = selector(candidates.detach(), reference,
                                         observation=image)
            else:
                index, scores = selector(candidates.detach(), reference)
            if len(iterates) > 1:
                runner_up = scores.clone()
                runner_up[torch.arange(len(image)), index] = -math.inf
                second_best = gather_candidates(candidates,
                                                runner_up.argmax(dim=1))
            else:
                second_best = None
            restored = gather_candidates(candidates, index)
            mask, background = new_mask, new_background
            state.update(mask=mask, background=background, edge=edge,
                         image=restored, iterates=candidates,
                         scores=scores, selected=index,
                         first_iterate=0 if self.select_stage_input else 1)
            states.append(state)
        return states


def prior_vector(output: Union[torch.Tensor, dict]) -> torch.Tensor:
    """The degradation vector of a prior head's output: its ``embedding``
    (DA-CLIP, the VLU-Net CLIP prior) or the tensor itself."""
    if isinstance(output, dict):
        if 'embedding' not in output:
            raise KeyError('the prior head returned a dict without '
                           "'embedding' (the degradation vector); keys: "
                           f'{sorted(output)}')
        return output['embedding']
    return output


__all__ = [
    'NUN', 'prior_vector', 'mask_gradient_step',
    'background_gradient_step'
]
