"""DeRUN: the degradation-resistant unfolding network nested in NUN.

He, Zhang, Zhang, Xiao, Fan, Farsiu, "Nested Unfolding Network for
Real-World Concealed Object Segmentation", ECCV 2026 (arXiv 2511.18164),
Sec. 4.2. The paper points to github.com/ChunmingHe/NUN for code; none has
been published there, so this file follows the paper's equations, and every
choice the paper leaves open is a constructor argument.
:class:`~dunseg.models.unfolding.nun.NUN` runs one DeRUN inside each of its
segmentation stages.

DeRUN restores ``Y = D X + N`` with an unknown degradation D in N_k
iterations (N = {4, 3, 3, 2} over NUN's stages)::

    RC_D(X)  = σ_{k,n} ⊙ (CRC(X) + X) + μ_{k,n}          (CRC = conv-ReLU-conv)
    X̂_{k,n} = X_{k,n−1} − α_X · RC_Dᵀ(RC_D(X_{k,n−1}) − X_{k−1})
    X_{k,n}  = X1(X̂_{k,n}) + X2(B_k, M_k, Y)

with {σ, μ} conditioned on a degradation vector d (a frozen DA-CLIP, or any
prior head: ``σ = 1 + conv3(li(d))``, ``μ = conv3(li(d))``) or learned
directly (the "implicit" variant, ``prior_dim=None``). NUN's selector then
picks one iterate X_{k,1..N_k} for the next stage.

Choices where the paper is silent (constructor arguments): X1 is a small
residual conv net, X2 a conv net on cat[B_k, σ(M_k), Y]; their last layers
and CRC's start at zero, so an untrained DeRUN returns its input (training
starts from the identity restoration).

Departures from the paper, off by default:

- ``residual_gate=True`` makes every iteration a gated step,
  ``X_{k,n} = X_{k,n−1} + g_{k,n} ⊙ (X̃_{k,n} − X_{k,n−1})`` with X̃_{k,n}
  the paper's update above and ``g_{k,n} ∈ (0, 1)`` one weight per image
  and colour channel, predicted from the iterate beside the degraded input
  Y (:class:`RestorationGate`). An image that needs no correction (a clean
  scene, or a low-resolution one that a colour and contrast correction
  only harms) can then pass through unchanged: with the gate closed the
  iterate is exactly its input, whatever the operators learned for the
  other degradations. The paper's iteration has no such path; without it
  a DeRUN trained on a mixture of degradations applies a correction to
  every input (the tiny model's clean scenes came back at 22-24 dB).
- ``data_anchor='degraded_input'``
anchors the data term at the degraded input Y instead of the stage's input
X_{k−1}, ``RC_D(X_{k,n−1}) − Y``, the residual that ``Y = D X + N``
implies; the paper's anchor makes every stage restore the previous stage's
restoration as if it were the observation. Measured on NUN-tiny
(configs/nun/README.md) it does not lift the low-resolution split and costs
the masks, so the paper's anchor stays the default.
"""
from typing import Callable, List, Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from dunseg.registry import MODELS


class ResidualConvOperator(nn.Module):
    """``RC(X) = σ ⊙ (CRC(X) + X) + μ``, a learned stand-in for the unknown
    degradation operator D (or its transpose); CRC = conv3x3-ReLU-conv3x3.

    CRC's last conv starts at zero, so the operator starts as the identity
    and an untrained DeRUN leaves its input unchanged.
    """

    def __init__(self, image_channels: int, channels: int) -> None:
        super().__init__()
        self.crc = nn.Sequential(
            nn.Conv2d(image_channels, channels, 3, padding=1), nn.ReLU(),
            nn.Conv2d(channels, image_channels, 3, padding=1))
        nn.init.zeros_(self.crc[-1].weight)
        nn.init.zeros_(self.crc[-1].bias)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor,
                mu: torch.Tensor) -> torch.Tensor:
        return sigma * (self.crc(x) + x) + mu


class DegradationModulation(nn.Module):
    """{σ, μ} of one residual operator from a degradation vector d.

    Explicit (``prior_dim`` given): ``li(d)`` is reshaped to a
    ``spatial x spatial`` map per image channel, a 3x3 conv refines it and
    it is resized to the image; σ = 1 + that, μ = that (second head). The
    linear layers and the conv biases start at zero, so every operator
    starts as ``CRC(X) + X``. Implicit (``prior_dim=None``): σ and μ are
    learned per-channel constants.
    """

    def __init__(self, image_channels: int, prior_dim: Optional[int],
                 spatial: int = 4) -> None:
        super().__init__()
        self.image_channels = image_channels
        self.prior_dim = prior_dim
        self.spatial = spatial
        if prior_dim is None:
            self.sigma = nn.Parameter(torch.ones(1, image_channels, 1, 1))
            self.mu = nn.Parameter(torch.zeros(1, image_channels, 1, 1))
            return
        size = image_channels * spatial * spatial
        self.linear_sigma = nn.Linear(prior_dim, size)
        self.linear_mu = nn.Linear(prior_dim, size)
        for linear in (self.linear_sigma, self.linear_mu):
            nn.init.zeros_(linear.weight)
            nn.init.zeros_(linear.bias)
        self.conv_sigma = nn.Conv2d(image_channels, image_channels, 3,
                                    padding=1)
        self.conv_mu = nn.Conv2d(image_channels, image_channels, 3,
                                 padding=1)
        for conv in (self.conv_sigma, self.conv_mu):
            nn.init.zeros_(conv.bias)

    def forward(self, prior: Optional[torch.Tensor], like: torch.Tensor):
        if self.prior_dim is None:
            return self.sigma, self.mu
        if prior is None or prior.dim() != 2 or \
                prior.shape[1] != self.prior_dim:
            raise ValueError(
                f'DeRUN: the degradation prior must be (N, {self.prior_dim}) '
                f'(prior_dim), got '
                f'{None if prior is None else tuple(prior.shape)}'
                '; give the prior head whose embedding has that length, or '
                'prior_dim=None for the implicit variant')
        shape = (len(prior), self.image_channels, self.spatial, self.spatial)

        def field(linear, conv):
            value = conv(linear(prior).view(shape))
            return F.interpolate(value, size=like.shape[2:], mode='bilinear',
                                 align_corners=False)

        return (1 + field(self.linear_sigma, self.conv_sigma),
                field(self.linear_mu, self.conv_mu))


class ResBlock(nn.Sequential):

    def __init__(self, channels: int) -> None:
        super().__init__(
            nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + super().forward(x)


class RestorationGate(nn.Module):
    """``g = sigmoid(W · [avg, max](conv(conv([X, Y]))) + b)``: how much of
    an iteration's correction to apply, per image and colour channel,
    judged from the iterate X beside the degraded input Y (their global
    statistics: brightness, contrast, colour cast, sharpness).

    Starts half open (``b = 0``) with small random weights, so at first
    every image gets half of the paper's update and training decides per
    image which ones should get none.
    """

    def __init__(self, image_channels: int, channels: int = 16) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(2 * image_channels, channels, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, stride=2, padding=1),
            nn.ReLU())
        self.weights = nn.Linear(2 * channels, image_channels)
        nn.init.normal_(self.weights.weight, std=1e-3)
        nn.init.zeros_(self.weights.bias)

    def forward(self, x: torch.Tensor,
                observation: torch.Tensor) -> torch.Tensor:
        features = self.features(torch.cat([x, observation], 1))
        pooled = torch.cat([features.mean((2, 3)), features.amax((2, 3))], 1)
        return torch.sigmoid(self.weights(pooled))[..., None, None]


class DeRUNIteration(nn.Module):
    """One DeRUN iteration n of stage k (paper Eqs. for X̂_{k,n}, X_{k,n})."""

    def __init__(self, image_channels: int, operator_channels: int,
                 prox_channels: int, prox_blocks: int, cue_channels: int,
                 prior_dim: Optional[int], prior_spatial: int,
                 step_init: float, residual_gate: bool = False) -> None:
        super().__init__()
        self.gate = RestorationGate(image_channels) if residual_gate \
            else None
        self.forward_operator = ResidualConvOperator(image_channels,
                                                     operator_channels)
        self.adjoint_operator = ResidualConvOperator(image_channels,
                                                     operator_channels)
        self.forward_modulation = DegradationModulation(
            image_channels, prior_dim, prior_spatial)
        self.adjoint_modulation = DegradationModulation(
            image_channels, prior_dim, prior_spatial)
        self.step = nn.Parameter(torch.tensor(float(step_init)))
        self.x1 = nn.Sequential(
            nn.Conv2d(image_channels, prox_channels, 3, padding=1),
            *[ResBlock(prox_channels) for _ in range(prox_blocks)],
            nn.Conv2d(prox_channels, image_channels, 3, padding=1))
        self.x2 = nn.Sequential(
            nn.Conv2d(2 * image_channels + 1, cue_channels, 3, padding=1),
            nn.ReLU(), nn.Conv2d(cue_channels, image_channels, 3, padding=1))
        # X1 and X2 add residuals that start at zero: the first iterate of
        # an untrained DeRUN is its input (identity operators, see above)
        for conv in (self.x1[-1], self.x2[-1]):
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor, observation: torch.Tensor,
                cues: torch.Tensor, prior: Optional[torch.Tensor],
                degraded: Optional[torch.Tensor] = None) -> torch.Tensor:
        sigma, mu = self.forward_modulation(prior, x)
        residual = self.forward_operator(x, sigma, mu) - observation
        sigma_t, mu_t = self.adjoint_modulation(prior, x)
        x_hat = x - self.step * self.adjoint_operator(residual, sigma_t, mu_t)
        update = x_hat + self.x1(x_hat) + self.x2(cues)
        if self.gate is None:
            return update
        gate = self.gate(x, observation if degraded is None else degraded)
        return x + gate * (update - x)


@MODELS.register_module()
class DeRUN(BaseModule):
    """Degradation-resistant unfolding network: NUN's inner restorer.

    ``forward(observation, image, mask, background, prior=None,
    prior_fn=None)`` runs ``num_iterations`` iterations from
    ``X_{k,0} = observation`` and returns the list of iterates
    ``[X_{k,1}, ..., X_{k,N}]``. ``mask`` are probabilities σ(M_k),
    ``background`` B_k and ``image`` the degraded input Y (X2's cues).
    ``prior`` is the degradation vector d (N, prior_dim); with ``prior_fn``
    (a callable image -> vector) it is recomputed from every iterate's input
    (``d_{k,n} = DA-CLIP(X_{k,n−1})``, the paper's per-iteration schedule).

    Any module with this forward can replace DeRUN in
    :class:`~dunseg.models.unfolding.nun.NUN` (``inner_cfg``), e.g. another
    unfolding restorer.

    Args:
        num_iterations (int): N_k.
        image_channels (int): 3 for RGB.
        operator_channels (int): Width of CRC in RC_D and RC_Dᵀ.
        prox_channels, prox_blocks: X1's width and residual blocks.
        cue_channels (int): X2's width.
        prior_dim (int, optional): Length of d; None = implicit σ, μ.
        prior_spatial (int): Side of the σ/μ map li(d) is reshaped to.
        step_init (float): Initial α_X.
        data_anchor (str): What RC_D(X) is compared with in the gradient
            step: ``'stage_input'`` X_{k−1}, the ``observation`` argument
            (the paper), or ``'degraded_input'`` Y, the ``image`` argument
            (a departure; module docstring).
        residual_gate (bool): Gate every iteration's correction per image
            and channel (:class:`RestorationGate`), so an input that needs
            none passes unchanged (a departure; module docstring). False =
            the paper.
    """
    DATA_ANCHORS = ('stage_input', 'degraded_input')

    def __init__(self,
                 num_iterations: int = 4,
                 image_channels: int = 3,
                 operator_channels: int = 16,
                 prox_channels: int = 32,
                 prox_blocks: int = 2,
                 cue_channels: int = 16,
                 prior_dim: Optional[int] = 512,
                 prior_spatial: int = 4,
                 step_init: float = 0.5,
                 data_anchor: str = 'stage_input',
                 residual_gate: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if data_anchor not in self.DATA_ANCHORS:
            raise ValueError(f'DeRUN: data_anchor must be one of '
                             f'{self.DATA_ANCHORS}, got {data_anchor!r}')
        self.data_anchor = data_anchor
        if num_iterations < 1:
            raise ValueError(f'DeRUN: num_iterations must be >= 1, got '
                             f'{num_iterations}')
        self.num_iterations = num_iterations
        self.prior_dim = prior_dim
        self.iterations = nn.ModuleList(
            DeRUNIteration(image_channels, operator_channels, prox_channels,
                           prox_blocks, cue_channels, prior_dim,
                           prior_spatial, step_init, residual_gate)
            for _ in range(num_iterations))

    def forward(self,
                observation: torch.Tensor,
                image: torch.Tensor,
                mask: torch.Tensor,
                background: torch.Tensor,
                prior: Optional[torch.Tensor] = None,
                prior_fn: Optional[Callable] = None) -> List[torch.Tensor]:
        cues = torch.cat([background, mask, image], dim=1)
        anchor = image if self.data_anchor == 'degraded_input' \
            else observation
        x = observation
        iterates = []
        for iteration in self.iterations:
            if prior_fn is not None:
                prior = prior_fn(x)
            x = iteration(x, anchor, cues, prior, degraded=image)
            iterates.append(x)
        return iterates


__all__ = ['DeRUN']
