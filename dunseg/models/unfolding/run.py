"""RUN: Reversible Unfolding Network for concealed object segmentation.

He, Zhang, Xiao, Fang, Tang, Zhang, Kong, Fan, Li, Farsiu, "RUN: Reversible
Unfolding Network for Concealed Object Segmentation", ICML 2025 (arXiv
2501.18783); official code github.com/ChunmingHe/RUN
(``lib/Network.py::Network``). The blocks the stages are built from live in
:mod:`dunseg.models.unfolding.run_blocks`.

A concealed image I is split into a foreground ``I ⊙ M`` (mask M) and a
background B. RUN minimises

    L(M, B) = ½ ||I − I ⊙ M − B||² + μ ψ(M) + λ φ(B) + α S(w ⊙ (M − f(M)))

(data term, mask and background regularisers, and the residual-sparsity
constraint S on the confident part of the mask, ``w`` masking out uncertain
pixels, ``f`` pushing confident values to 0.1 / 0.9), by alternating a mask
step and a background step, and unrolls the iterations into K = 4 stages that
run from the deepest encoder level (k = 4, stride 32) to the finest
(k = 1, stride 4). Each stage has two modules:

**SOFS** (segmentation-oriented foreground separation), the mask step:

- residual-sparsity step (RSC, official ``get_m_hat.SparsePipeline``), the
  closed-form minimiser of the data term plus a proximity term, with the
  sparse residual estimated by a CNN::

      m̃ = f(M)    f: (0.1, 0.4) -> 0.1, (0.6, 0.9) -> 0.9
      w(p) = 0 where 0.4 < p < 0.6, else 1
      s = α_s · w(s') ⊙ s',
      s' = CNN(w(M̂_{k+1}) ⊙ M̂_{k+1} − w(m̃_{k+1}) ⊙ m̃_{k+1})
      r = m̃_k + M̂_{k+1} − m̃_{k+1}
      M̂_k = mean_c[(I ⊙ I − I ⊙ B_{k+1} + α w(r)² ⊙ r − s + μ M_{k+1})
                   / (I ⊙ I + 1 + μ)]

  (μ learned, init 0.01; α_s learned, init 0.1; α = 0.01). As coded it is
  applied once, at stage 4, with M_{k+1} = M̂_{k+1} = M_0.
- reversible state space (RSS, official ``Selectivemamba``) on the deepest
  context features E = f_4: two visual state-space blocks, a small- and a
  large-receptive-field one, weighted by the normalised M̂ and by the
  normalised background ratio ``mean_c(B/I)``::

      M_ss = conv3x3(VSS_s(E) ⊙ norm(M̂_k)
                     + VSS_l(E) ⊙ norm(mean_c(B_{k+1}/I)))

- mask proximal step with reverse attention and edges (official ``REM11`` of
  four ``REU6``,
  :class:`~dunseg.models.unfolding.run_blocks.ReverseEdgeUnit`)::

      M'_k, E_k = REU_k(F_k, M'_{k+1}),   M'_5 = prior (GPM)
      M_4 = conv3x3(cat[0.1 M̂_4, conv3x3(cat[0.1 M_ss, M'_4])])
      M_k = M'_k  (k < 4)

**ROBE** (reconstruction-oriented background extraction), the background step:
a gradient step on the data term with a proximity term ``λ/2 ||B − B_{k+1}||²``
has the closed form::

      B̂_k = (λ B_{k+1} + I − M_k ⊙ I) / (1 + λ)         (λ learned, init 0.01)
      B_k  = R(cat[M_k, B̂_k, I])              (R shared by all stages)

with R the invertible-coupling U-net
(:class:`~dunseg.models.unfolding.run_blocks.InvertibleCouplingUNet`). The
initial state is ``M_0 = up(GPM(x_4))`` (global prior module on the deepest
encoder features) and ``B_0 = (1 − M_0) ⊙ I``. Features: context module
(ETM per level), then a shared intra-level aggregation (IAF) and top-down
cross-level aggregation (CAF) for levels 3..1 (level 4 keeps the context
features).

I is the network input as the official code uses it (ImageNet-normalised), and
all masks M are logits. The paper's equation numbers are not reproduced here
(no copy of the paper is available offline); the update names follow its
module names (SOFS, RSC, RSS, ROBE).

Where the official code (github.com/ChunmingHe/RUN, ``lib/Network.py`` and
``lib/Modules.py``) differs from the paper, or is broken, the fixed behaviour
is the default and a flag reproduces the official one:

- ``rebuild_vss_each_call`` (default False): the official ``Selectivemamba``
  and its two VSS blocks are constructed inside ``forward``, so they run with
  new random, untrained weights on every call and are never saved. Here they
  are registered sub-modules trained like the rest; ``True`` rebuilds them per
  call (only to reproduce the official outputs' behaviour).
- ``ss_flatten`` (default ``'permute'``): the official code passes the
  (N, C, H, W) map to the VSS blocks with ``.view(N, H*W, C)``, which
  reinterprets memory and mixes channels with positions; ``'view'`` does the
  same (and the inverse ``.view`` after the blocks).
- ``ss_weight_norm`` (default ``'image'``): min-max normalisation of the two
  RSS weight maps per image; the official code normalises over the whole batch
  (``'batch'``), so a prediction depends on the other images of its batch.
- ``mask_as`` (default ``'probability'``): where a mask enters the data term
  (``B_0``, the RSC step, ``B̂_k`` and the input of R) it is used as
  ``σ(M)``; the official code uses the raw logits (``'logits'``), so
  ``I − M ⊙ I`` is not a background and the RSC thresholds (0.1 ... 0.9) act on
  logits.
- The unused wavelet / guided-filter branch of the official context module is
  left out (its outputs are never read; it made 352 x 352 inputs fail), as are
  the other registered-but-unused official modules (see
  :mod:`dunseg.models.unfolding.run_blocks`), so any input size the encoder
  accepts works (multiples of 32 keep the official resampling exact).
- The official state-space head is a conv hard-wired to 192 input channels
  (so only ``channels=192`` ran); here it follows ``channels``.
"""
import copy
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from dunseg.registry import MODELS

from .run_blocks import (
    ContextModule,
    CrossLevelAggregation,
    GlobalPriorModule,
    IntraLevelAggregation,
    InvertibleCouplingUNet,
    LargeFieldCAB,
    ReverseEdgeUnit,
)

State = Dict[str, torch.Tensor]


def push_confident_to_extremes(prob: torch.Tensor) -> torch.Tensor:
    """``m̃ = f(m)``: values in (0.1, 0.4) -> 0.1 and (0.6, 0.9) -> 0.9
    (official ``get_m_tilde``)."""
    low = (prob > 0.1) & (prob < 0.4)
    high = (prob > 0.6) & (prob < 0.9)
    prob = torch.where(low, torch.full_like(prob, 0.1), prob)
    return torch.where(high, torch.full_like(prob, 0.9), prob)


def certainty_weight(prob: torch.Tensor) -> torch.Tensor:
    """``w(p)``: 0 in the uncertain band 0.4 < p < 0.6, else 1 (``get_w``)."""
    uncertain = (prob > 0.4) & (prob < 0.6)
    return (~uncertain).to(prob.dtype)


class SparseResidualCNN(nn.Module):
    """``s = α_s · w(s') ⊙ s'`` with ``s' = CNN(w(M̂) ⊙ M̂ − w(m̃) ⊙ m̃)``;
    CNN = conv3x3(1 -> c) + ReLU, ``num_layers`` x [conv3x3(c -> c) + ReLU],
    conv3x3(c -> 1) (official ``SparseModule``)."""

    def __init__(self, channels: int = 32, num_layers: int = 6,
                 alpha_init: float = 0.1) -> None:
        super().__init__()
        layers: List[nn.Module] = [nn.Conv2d(1, channels, 3, padding=1),
                                   nn.ReLU(True)]
        for _ in range(num_layers):
            layers += [nn.Conv2d(channels, channels, 3, padding=1),
                       nn.ReLU(True)]
        layers.append(nn.Conv2d(channels, 1, 3, padding=1))
        self.convs = nn.Sequential(*layers)
        self.alpha = nn.Parameter(torch.tensor([alpha_init]))

    def forward(self, mask_hat_prev: torch.Tensor,
                mask_tilde_prev: torch.Tensor) -> torch.Tensor:
        residual = (certainty_weight(mask_hat_prev) * mask_hat_prev -
                    certainty_weight(mask_tilde_prev) * mask_tilde_prev)
        sparse = self.convs(residual)
        return self.alpha * sparse * certainty_weight(sparse)


class ResidualSparsityStep(nn.Module):
    """RSC: the closed-form mask step with the residual-sparsity term (see the
    module docstring; official ``SparsePipeline``).

    Args:
        channels, num_layers: Width and depth of the sparse-residual CNN.
        mu_init (float): Initial proximity weight μ (learned).
        sparsity_alpha_init (float): Initial α_s of the CNN's output (learned).
        fidelity_alpha (float): Fixed weight α of the residual term (0.01).
    """

    def __init__(self,
                 channels: int = 32,
                 num_layers: int = 6,
                 mu_init: float = 0.01,
                 sparsity_alpha_init: float = 0.1,
                 fidelity_alpha: float = 0.01) -> None:
        super().__init__()
        self.mu = nn.Parameter(torch.tensor([mu_init]))
        self.sparse_module = SparseResidualCNN(channels, num_layers,
                                               sparsity_alpha_init)
        self.fidelity_alpha = fidelity_alpha

    def forward(self, image: torch.Tensor, background_prev: torch.Tensor,
                mask_prev: torch.Tensor, mask_hat_prev: torch.Tensor,
                mask_prev_prev: torch.Tensor) -> torch.Tensor:
        """M̂_k from I, B_{k+1}, M_{k+1}, M̂_{k+1} and M_{k+2} (masks as used
        in the data term); returns (N, 1, H, W)."""
        tilde_prev = push_confident_to_extremes(mask_prev_prev)
        tilde = push_confident_to_extremes(mask_prev)
        sparse = self.sparse_module(mask_hat_prev, tilde_prev)
        residual = tilde + mask_hat_prev - tilde_prev
        weight = certainty_weight(residual)
        image_sq = image * image
        numerator = (image_sq - image * background_prev +
                     self.fidelity_alpha * weight * weight * residual -
                     sparse + self.mu * mask_prev)
        denominator = image_sq + 1 + self.mu + 1e-6
        return (numerator / denominator).mean(1, keepdim=True)


def _min_max(x: torch.Tensor, per_image: bool) -> torch.Tensor:
    if per_image:
        low = x.amin(dim=(1, 2, 3), keepdim=True)
        high = x.amax(dim=(1, 2, 3), keepdim=True)
    else:
        low, high = x.min(), x.max()
    return (x - low) / (high - low + 1e-8)


class ReversibleStateSpace(nn.Module):
    """RSS (official ``Selectivemamba``): see the module docstring.

    Args:
        channels (int): Channels of the deepest context features.
        vss_cfg (dict): ``VSSBlock`` config without ``hidden_dim`` and
            ``is_light_sr`` (set here: False for VSS_s, True for VSS_l).
        flatten (str): ``'permute'`` or the official ``'view'``.
        weight_norm (str): ``'image'`` or the official ``'batch'``.
        rebuild_each_call (bool): Official behaviour: new random VSS blocks on
            every forward.
        large_field_cab (str): ``'run'``: VSS_l's channel-attention block is
            RUN's dilated depthwise one (:class:`LargeFieldCAB`, RUN's
            ``CAB(is_light_sr=True)``; 383,142 parameters per block at 192
            channels); ``'mambair'`` keeps the VSSBlock's own light CAB
            (MambaIR's, 453,926).
    """

    def __init__(self,
                 channels: int,
                 vss_cfg: dict,
                 flatten: str = 'permute',
                 weight_norm: str = 'image',
                 rebuild_each_call: bool = False,
                 large_field_cab: str = 'run') -> None:
        super().__init__()
        if large_field_cab not in ('run', 'mambair'):
            raise ValueError(f"large_field_cab must be 'run' or 'mambair', "
                             f'got {large_field_cab!r}')
        self.large_field_cab = large_field_cab
        if flatten not in ('permute', 'view'):
            raise ValueError(f"ss_flatten must be 'permute' or 'view', got "
                             f'{flatten!r}')
        if weight_norm not in ('image', 'batch'):
            raise ValueError(f"ss_weight_norm must be 'image' or 'batch', "
                             f'got {weight_norm!r}')
        self.flatten = flatten
        self.weight_norm = weight_norm
        self.rebuild_each_call = rebuild_each_call
        self.block_cfgs = [
            dict(copy.deepcopy(vss_cfg), hidden_dim=channels,
                 is_light_sr=light) for light in (False, True)
        ]
        self.small_field = self._build_block(large=False)
        self.large_field = self._build_block(large=True)
        self.out_y = nn.Conv2d(channels, 1, 3, padding=1)

    def _build_block(self, large: bool) -> nn.Module:
        block = MODELS.build(self.block_cfgs[int(large)])
        if large and self.large_field_cab == 'run':
            block.conv_blk = LargeFieldCAB(self.block_cfgs[1]['hidden_dim'])
        return block

    def _run_block(self, block: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if self.flatten == 'permute':
            return block(x)
        # Official: x.view(N, H*W, C) read as (N, H, W, C), and the block's
        # (N, H, W, C) output read back with .view(N, C, H, W).
        n, c, h, w = x.shape
        scrambled = x.reshape(n, h, w, c).permute(0, 3, 1, 2)
        out = block(scrambled)
        return out.permute(0, 2, 3, 1).reshape(n, c, h, w)

    def forward(self, features: torch.Tensor, mask_hat: torch.Tensor,
                background: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """Mask logits at the features' resolution, (N, 1, h, w)."""
        size = features.shape[2:]
        ratio = (background / (image + 1e-6)).mean(1, keepdim=True)
        ratio = F.interpolate(ratio, size=size, mode='bilinear',
                              align_corners=False)
        mask_hat = F.interpolate(mask_hat, size=size, mode='bilinear',
                                 align_corners=False)
        per_image = self.weight_norm == 'image'
        mask_hat = _min_max(mask_hat, per_image)
        ratio = _min_max(ratio, per_image)
        if self.rebuild_each_call:
            device = features.device
            small = self._build_block(large=False).to(device)
            large = self._build_block(large=True).to(device)
        else:
            small, large = self.small_field, self.large_field
        fused = (self._run_block(small, features) * mask_hat +
                 self._run_block(large, features) * ratio)
        return self.out_y(fused)


@MODELS.register_module(name='RUN')
class RUNUnfolding(BaseModule):
    """RUN's unfolding backbone: encoder features + image -> stage states.

    Returns the states in the order they are computed: the initial state
    ``{mask: M_0, background: B_0}`` then stages k = 4, 3, 2, 1, each
    ``{mask: M_k, background: B_k, edge: E_k}`` (stage 4 also ``mask_hat``
    M̂_4 and, with RSS, ``mask_ss`` M_ss), all at the input resolution; masks
    and edges have one channel, backgrounds as many as the image. Masks are
    logits; edges are in [0, 1].

    Args:
        in_channels (sequence of int): Channels of the four encoder levels
            (ResNet-50: 256, 512, 1024, 2048).
        channels (int): Width of the decoder (official default 192).
        vss_cfg (dict, optional): Config of the VSS blocks of the RSS step
            (``hidden_dim`` and ``is_light_sr`` are filled in); None leaves the
            RSS step out (an ablation: M_4 then fuses only M̂_4).
        mask_as (str): ``'probability'`` or the official ``'logits'``.
        ss_flatten (str): ``'permute'`` or the official ``'view'``.
        ss_weight_norm (str): ``'image'`` or the official ``'batch'``.
        rebuild_vss_each_call (bool): Official untrained VSS blocks.
        large_field_cab (str): ``'run'`` (RUN's dilated CAB in VSS_l) or
            ``'mambair'``; see :class:`ReversibleStateSpace`.
        sparsity_channels, sparsity_layers: RSC's CNN.
        background_channels (int): Width of the ROBE U-net (8).
        image_channels (int): Channels of the image I and of B (3).
        lambda_init (float): Initial λ of the background step (0.01).
        mu_init, sparsity_alpha_init, fidelity_alpha: RSC constants.
    """
    stage_names = ('prior', 'k4', 'k3', 'k2', 'k1')

    def __init__(self,
                 in_channels: Sequence[int] = (256, 512, 1024, 2048),
                 channels: int = 192,
                 vss_cfg: Optional[dict] = dict(
                     type='VSSBlock', d_state=16, expand=2.0, d_conv=3,
                     ln_1_eps=1e-6),
                 mask_as: str = 'probability',
                 ss_flatten: str = 'permute',
                 ss_weight_norm: str = 'image',
                 rebuild_vss_each_call: bool = False,
                 large_field_cab: str = 'run',
                 sparsity_channels: int = 32,
                 sparsity_layers: int = 6,
                 background_channels: int = 8,
                 image_channels: int = 3,
                 lambda_init: float = 0.01,
                 mu_init: float = 0.01,
                 sparsity_alpha_init: float = 0.1,
                 fidelity_alpha: float = 0.01,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(in_channels) != 4:
            raise ValueError('RUN needs four encoder levels (strides 4, 8, '
                             f'16, 32), got in_channels={tuple(in_channels)}')
        if mask_as not in ('probability', 'logits'):
            raise ValueError(f"mask_as must be 'probability' or 'logits', got "
                             f'{mask_as!r}')
        self.mask_as = mask_as
        self.context = ContextModule(in_channels, channels)
        self.intra = IntraLevelAggregation(channels, channels)
        self.cross = CrossLevelAggregation(channels)
        self.fuse = nn.Conv2d(channels * 2, channels, 1)
        self.prior = GlobalPriorModule(in_channels=in_channels[-1])
        self.sparsity = ResidualSparsityStep(
            sparsity_channels, sparsity_layers, mu_init, sparsity_alpha_init,
            fidelity_alpha)
        self.state_space = None
        if vss_cfg is not None:
            self.state_space = ReversibleStateSpace(
                channels, vss_cfg, ss_flatten, ss_weight_norm,
                rebuild_vss_each_call, large_field_cab)
            self.fuse_state_space = nn.Conv2d(2, 1, 3, padding=1)
        self.fuse_sparsity = nn.Conv2d(2, 1, 3, padding=1)
        # REU_f1 ... REU_f4 of the official REM11, finest first.
        self.reverse_units = nn.ModuleList(
            ReverseEdgeUnit(channels, channels) for _ in range(4))
        self.background_net = InvertibleCouplingUNet(
            2 * image_channels + 1, background_channels, image_channels)
        self.lam = nn.Parameter(torch.tensor([lambda_init]))

    def data_mask(self, mask_logits: torch.Tensor) -> torch.Tensor:
        """The mask as it enters the data term: σ(M), or M (official)."""
        if self.mask_as == 'probability':
            return torch.sigmoid(mask_logits)
        return mask_logits

    def background_step(self, mask: torch.Tensor,
                        background_prev: torch.Tensor,
                        image: torch.Tensor) -> torch.Tensor:
        """ROBE: ``B̂_k = (λ B_{k+1} + I − M_k ⊙ I) / (1 + λ)``, then
        ``B_k = R(cat[M_k, B̂_k, I])``."""
        mask = self.data_mask(mask)
        background_hat = ((self.lam * background_prev + image - mask * image) /
                          (1 + self.lam + 1e-6))
        return self.background_net(torch.cat([mask, background_hat, image], 1))

    def aggregate(self, features: Sequence[torch.Tensor]
                  ) -> List[torch.Tensor]:
        """Context features F_1..F_4: ETM per level, then IAF + CAF top-down
        for levels 3..1 (level 4 keeps the ETM output, as coded)."""
        context = self.context(features)
        intra = [self.intra(f) for f in context]
        fused = [None, None, None, context[3]]
        coarse = intra[3]
        for level in (2, 1, 0):
            cross = self.cross(coarse, intra[level])
            fused[level] = self.fuse(torch.cat([cross, intra[level]], 1))
            coarse = fused[level]
        return fused

    def forward(self, image: torch.Tensor,
                features: Sequence[torch.Tensor]) -> List[State]:
        size = image.shape[2:]

        def up(x, align_corners=False):
            return F.interpolate(x, size=size, mode='bilinear',
                                 align_corners=align_corners)

        levels = self.aggregate(features)
        prior = self.prior(features[3])
        mask0 = up(prior)
        background0 = (1 - self.data_mask(mask0)) * image
        states: List[State] = [dict(mask=mask0, background=background0)]

        # SOFS at stage 4: RSC, RSS and the reverse-attention read-out.
        data_mask0 = self.data_mask(mask0)
        mask_hat = self.sparsity(image, background0, data_mask0, data_mask0,
                                 data_mask0)
        coarse = prior
        stage_masks, stage_edges = [], []
        for level in (3, 2, 1, 0):
            coarse, edge = self.reverse_units[level](levels[level], coarse)
            stage_masks.append(up(coarse, align_corners=True))
            stage_edges.append(up(edge, align_corners=True))
        mask4 = stage_masks[0]
        extra: State = dict(mask_hat=mask_hat)
        if self.state_space is not None:
            mask_ss = up(self.state_space(levels[3], mask_hat, background0,
                                          image))
            extra['mask_ss'] = mask_ss
            mask4 = self.fuse_state_space(torch.cat([0.1 * mask_ss, mask4], 1))
        stage_masks[0] = self.fuse_sparsity(
            torch.cat([0.1 * mask_hat, mask4], 1))

        # ROBE, stages 4 -> 1, the reconstruction net shared.
        background = background0
        for index, (mask, edge) in enumerate(zip(stage_masks, stage_edges)):
            background = self.background_step(mask, background, image)
            state = dict(mask=mask, background=background, edge=edge)
            if index == 0:
                state.update(extra)
            states.append(state)
        return states
