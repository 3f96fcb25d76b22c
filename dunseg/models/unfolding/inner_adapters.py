"""Other unfolding restorers in NUN's inner slot.

NUN (:class:`~dunseg.models.unfolding.NUN`) runs, inside each of its
segmentation stages, an inner restorer built from ``inner_cfg`` with
``num_iterations`` set per stage, and calls it with the contract of
:class:`~dunseg.models.unfolding.DeRUN`::

    iterates = inner(observation, image, mask, background,
                     prior=None, prior_fn=None)

``observation`` is the stage's input restoration X_{k−1}, ``image`` the
degraded input Y, ``mask`` σ(M_k), ``background`` B_k; the result is a
list of ``num_iterations`` candidate images (N, C, H, W) that NUN's
selector chooses from. :class:`VLUNetInnerRestorer` fills the slot with
VLU-Net's hierarchical proximal-gradient restorer
(:class:`~dunseg.models.unfolding.VLUNet`, Zeng et al., CVPR 2025).
"""
from typing import Callable, List, Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from dunseg.registry import MODELS

#: VLU-Net's stage widths in units of ``dim`` (``VLUNet.stage_names``
#: order: encoder 1-3, latent, decoder 3-1, refinement; decoder level 1 and
#: refinement keep 2·dim).
VLUNET_STAGE_WIDTHS = (1, 2, 4, 8, 4, 2, 2, 2)


class FeatureReadout(nn.Module):
    """A stage's features back to an image: conv3x3, upsample, + input
    (the per-stage head of :class:`~dunseg.models.architectures.Restorer`,
    here as NUN's candidates). The conv starts at zero: an untrained
    readout returns the input, as an untrained DeRUN iterate does."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1,
                              bias=False)
        nn.init.zeros_(self.conv.weight)

    def forward(self, features: torch.Tensor,
                inputs: torch.Tensor) -> torch.Tensor:
        residual = self.conv(features)
        if residual.shape[-2:] != inputs.shape[-2:]:
            residual = F.interpolate(residual, size=inputs.shape[-2:],
                                     mode='bilinear', align_corners=False)
        return residual + inputs


@MODELS.register_module()
class VLUNetInnerRestorer(BaseModule):
    """VLU-Net as NUN's inner restorer (the DeRUN contract, module doc).

    One VLU-Net pass restores the stage input X_{k−1} (its gradient steps
    compare features with the embedded X_{k−1}, its degradation key comes
    from the prior). The candidates are its last ``num_iterations`` stages
    in execution order, coarse to fine: the earlier ones read out to
    images by a conv3x3 (+ upsampling) added to X_{k−1}, the last one
    VLU-Net's own output (set the VLU-Net's ``zero_init_output`` to start
    every candidate at X_{k−1}, as DeRUN starts). DeRUN's cue term
    X2(B_k, σ(M_k), Y) is added to every candidate when ``cue_channels``
    is set; its last conv starts at zero, so an untrained adapter returns
    VLU-Net's candidates.

    Inputs whose side is not a multiple of 8 are reflect-padded for the
    VLU-Net and the candidates cropped back.

    Args:
        num_iterations (int): Candidates per call, 1..8 (NUN sets it).
        backbone (dict): The ``VLUNet`` config (``in_channels`` is NUN's
            ``image_channels``).
        cue_channels (int, optional): Width of the cue term; None = the
            candidates ignore the mask and background.
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self,
                 num_iterations: int = 4,
                 backbone: dict = dict(type='VLUNet'),
                 cue_channels: Optional[int] = 16,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        num_stages = len(VLUNET_STAGE_WIDTHS)
        if not 1 <= num_iterations <= num_stages:
            raise ValueError(
                f'VLUNetInnerRestorer: num_iterations must be 1..'
                f'{num_stages} (one candidate per VLU-Net stage), got '
                f'{num_iterations}; lower NUN.inner_iterations')
        self.num_iterations = int(num_iterations)
        self.backbone = MODELS.build(backbone)
        if not hasattr(self.backbone, 'stage_names') or \
                len(self.backbone.stage_names) != num_stages:
            raise TypeError('VLUNetInnerRestorer: backbone must be a VLUNet '
                            f'(8 stages), got {type(self.backbone).__name__}')
        self.prior_dim = (self.backbone.prior_dim
                          if self.backbone.use_prior else None)
        channels = self.backbone.in_channels
        dim = self.backbone.output.in_channels // 2
        self.readouts = nn.ModuleList(
            FeatureReadout(VLUNET_STAGE_WIDTHS[index] * dim, channels)
            for index in range(num_stages - self.num_iterations,
                               num_stages - 1))
        self.cues = None
        if cue_channels is not None:
            self.cues = nn.Sequential(
                nn.Conv2d(2 * channels + 1, cue_channels, 3, padding=1),
                nn.ReLU(), nn.Conv2d(cue_channels, channels, 3, padding=1))
            nn.init.zeros_(self.cues[-1].weight)
            nn.init.zeros_(self.cues[-1].bias)

    @staticmethod
    def _pad(x: torch.Tensor, divisor: int = 8) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = (-h) % divisor, (-w) % divisor
        if ph == 0 and pw == 0:
            return x
        mode = 'reflect' if ph < h and pw < w else 'replicate'
        return F.pad(x, (0, pw, 0, ph), mode=mode)

    def forward(self,
                observation: torch.Tensor,
                image: torch.Tensor,
                mask: torch.Tensor,
                background: torch.Tensor,
                prior: Optional[torch.Tensor] = None,
                prior_fn: Optional[Callable] = None) -> List[torch.Tensor]:
        if prior_fn is not None:
            prior = prior_fn(observation)
        h, w = observation.shape[-2:]
        padded = self._pad(observation)
        states = self.backbone(padded, prior=prior)
        first = len(states) - self.num_iterations
        iterates = [
            readout(state['x'], padded)[..., :h, :w]
            for readout, state in zip(self.readouts, states[first:-1])
        ]
        iterates.append(states[-1]['image'][..., :h, :w])
        if self.cues is not None:
            cue = self.cues(torch.cat([background, mask, image], dim=1))
            iterates = [x + cue for x in iterates]
        return iterates


__all__ = ['VLUNetInnerRestorer', 'FeatureReadout', 'VLUNET_STAGE_WIDTHS']
