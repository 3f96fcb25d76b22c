"""VL-DUN: Attention-Mamba deep unfolding for joint medical image
restoration and segmentation.

Chen, Huang, Wang, Liu, Liang, Zeng, Chen, "VL-DUN: Vision-Language
controlled Deep Unfolding Network for all-in-one medical image restoration
and segmentation", arXiv 2601.23103 (2026). No public code: its repository,
github.com/cipi666/VLDUN, holds only a README. The group's VLU-Net
(:mod:`~dunseg.models.unfolding.vlunet`) is the base this file follows, and
every choice the paper leaves open is a constructor argument (listed
below); ``physical_operator``, ``frequency_decoupling`` and ``use_prior``
switch the paper's ablations.

Problem (Sec. 3.1, 3.4.1): recover ``x`` from ``y = Φx + n`` by proximal
gradient descent on ``½‖y − Φx‖² + λR(x)``, unrolled into K stages laid out
as VLU-Net's 4-level U-shape on features (Sec. 3.2 "K stages arranged in a
hierarchical architecture"). Stage k at level l updates the features

    z^(k) = x^(k-1) − ρ_k · Φᵀ(Φx^(k-1) − ŷ_l)    AMGDM (Sec. 3.4.2, E.1)
    x^(k) = prox_k(z^(k))                          MDPMM (Sec. 3.4.3, E.2)

AMGDM, the gradient step (:class:`AttentionMambaGDM`):

- Φx: cross-attention with the image features as queries and the CLIP dual
  prior (modality + degradation vectors, Sec. 3.3) as keys and values
  (Eq. 10, ``softmax(QKᵀ/√d)V``), ``Φx = x + W_o·Attn(W_q·LN(x), W_k·P,
  W_v·P)``. Each prior vector is projected to ``tokens_per_prior`` key/value
  tokens of the level's width, so attention costs O(HW · tokens): pixels
  query a handful of prior tokens. The residual ``x +`` makes Φ a
  prior-driven perturbation of the identity (the paper: the attention
  "simulates the specific degradation pattern described by the prompt");
  our choice, the paper gives no formula.
- Φᵀ: a bidirectional Mamba layer (:class:`~dunseg.models.layers.BiMamba`,
  Vim v2) applied to the residual ``Φx − ŷ`` (E.1 "gradient back-projection
  via Bi-Mamba").
- ρ_k: a learned scalar per stage (init ``step_init``; VLU-Net's r = 1).
- ``physical_operator=True`` (ablation): the known k-space operator
  ``A = M ⊙ F`` (:class:`~dunseg.physics.KSpaceMask`, from the data samples'
  ``kspace_mask``) replaces the learned pair, ``z = x − ρ·Aᴴ(Ax − y_k) =
  x − ρ·(AᴴAx − ŷ)`` channel by channel, where ŷ = Aᴴy_k stands for the
  zero-filled observation. A level-l feature grid (H/2^(l-1)) sees the
  centre crop of the centred mask of that size: a grid coarsened by
  k-space truncation keeps exactly the central frequencies, so the crop is
  the operator the coarse grid can represent (our choice).

MDPMM, the proximal step (:class:`FrequencyAwareBlock`, Eq. 4):

    x_low  = AvgPool_p(z)            (p x p, stride p; ``pool_size``)
    x_high = z − Up(x_low)           (bilinear back to z's size)
    out    = z + Conv1x1([BiMamba(LN(x_high)), Up(GDFN(LN(x_low)))])

The GDFN runs on the pooled map itself (Eq. 4 defines x_low as the pooled
map; the paper's "reducing computational redundancy"), Bi-Mamba on the
full-resolution high band. ``frequency_decoupling=False`` (ablation "w/o FD",
Table 3) feeds z itself to both branches (GDFN at full resolution), with the
same parameters. A proximal step is ``num_blocks[l]`` such blocks, as
VLU-Net's PMM is a stack of Restormer blocks.

Layout (VLU-Net's, VL-DUN Sec. 3.2; VLU-Net's official ``net/Final.py``):
features x from ``patch_embed`` and a separate observation stream ŷ from
``patch_embed_y`` (the zero-filled input), both resampled level to level
by their own Downsample / Upsample and 1x1 channel reductions; ŷ is never
updated by the stages. Stages: encoder levels 1-3, latent (level 4),
decoder levels 3-1 (level 1 at 2C after the skip concatenation) and a
refinement stage: K = 8.
The reconstruction head (Rec. Head) is ``Conv3x3(2C -> 1) + y`` (global
residual); the segmentation head (Seg. Head, "a simple CNN", E.2) is
:class:`VLDUNSegHead` on the final stage's features, built by the
architecture.

Where the paper is silent (constructor arguments, defaults chosen so that
the network has fewer parameters and MACs than VLU-Net, Table 5):
width ``dim = 48`` and levels (C, 2C, 4C, 8C) as VLU-Net; MDPMM blocks per
level ``(2, 2, 2, 2)`` + 2 refinement (22,281,176 parameters, 27.64 G MACs
at 128 x 128 as ``dunseg.utils.complexity`` counts them, selective scan
included; the paper's Table 5: 22.77 M and 167.24 G FLOPs at 256², i.e.
about 20.9 G MACs at 128² if its FLOPs are 2 x MACs as VLU-Net's 335.80 G
are; VLU-Net here: 35,353,028 and 42.03 G); cross-attention heads (1, 2, 4, 8);
``tokens_per_prior = 4``; ``pool_size = 2``; Mamba ``d_state = 16``,
``expand = 2``; ρ init 1.

Data consistency (``data_consistency=True``, ours, off by default): the
Rec. Head's image is projected onto the slices consistent with the measured
k-space samples (:func:`project_onto_measurements`), optionally alternated
with the clip to the intensity box (``consistency_box``). Both sets contain
the clean slice, so each projection moves the image no further from it; with
``zero_init_output`` an untrained network returns the projection of the
zero-filled input itself, which is that input for Hermitian-symmetric masks
and closer to the clean slice otherwise. The network can only change the
unmeasured frequencies.

w/o CLIP (Table 3, ``use_prior=False``): learned prompts replace the CLIP
priors, PromptIR-style: a bank of ``num_learned_prompts`` vectors weighted
per image and per prior slot by ``softmax(Linear(GAP(ŷ_1)))``.
"""
import math
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from dunseg.registry import MODELS

from ..layers.mamba import BiMamba
from ..layers.restormer import (
    GDFN,
    Downsample,
    LayerNorm2d,
    OverlapPatchEmbed,
    Upsample,
)

State = Dict[str, torch.Tensor]

STAGE_NAMES = ('encoder_level1', 'encoder_level2', 'encoder_level3', 'latent',
               'decoder_level3', 'decoder_level2', 'decoder_level1',
               'refinement')
#: Level (1 = full resolution) of each stage in :data:`STAGE_NAMES`.
STAGE_LEVELS = (1, 2, 3, 4, 3, 2, 1, 1)


def centre_crop_kspace_mask(mask: torch.Tensor, size) -> torch.Tensor:
    """The central ``size`` window of centred k-space masks (N, 1, H, W).

    DC sits at ``(H // 2, W // 2)`` (``KSpaceUndersample``); the crop keeps
    it at ``(h // 2, w // 2)``, so the result is again a centred mask.
    """
    h, w = size
    big_h, big_w = mask.shape[-2:]
    if (h, w) == (big_h, big_w):
        return mask
    if h > big_h or w > big_w:
        raise ValueError(f'centre_crop_kspace_mask: cannot crop a {big_h}x'
                         f'{big_w} mask to {h}x{w}')
    top = big_h // 2 - h // 2
    left = big_w // 2 - w // 2
    return mask[..., top:top + h, left:left + w]


def project_onto_measurements(image: torch.Tensor, zero_filled: torch.Tensor,
                              mask: torch.Tensor) -> torch.Tensor:
    """Orthogonal projection of real slices onto those that agree with the
    measured k-space samples.

    ``zero_filled = Re F⁻¹(M ⊙ F x)`` (``KSpaceUndersample``) and ``mask``
    ``M`` (N or 1, 1, H, W) in FFT order (``KSpaceMask.mask``). For a real
    ``x``, ``F x(−k) = conj(F x(k))``, so a sample at ``k`` also fixes
    ``−k``, and ``F zero_filled = S ⊙ F x`` with ``S = (M(k) + M(−k)) / 2``.
    The projection keeps the image's coefficients where ``S = 0`` and puts
    the measured ones, ``F zero_filled / S``, where ``S > 0``: the orthogonal
    projection (``F`` is unitary) onto an affine set that holds the clean
    slice, so the result is never further from it than ``image`` is.
    """
    if mask.shape[-2:] != image.shape[-2:]:
        raise ValueError(
            f'project_onto_measurements: the k-space mask is '
            f'{tuple(mask.shape[-2:])} but the slices are '
            f'{tuple(image.shape[-2:])}; undersample the slices at the size '
            'the network sees (no padding)')
    mask = mask.to(device=image.device, dtype=image.dtype)
    # M(−k): index k -> (−k) mod N along each axis
    mirrored = torch.roll(torch.flip(mask, dims=(-2, -1)), shifts=(1, 1),
                          dims=(-2, -1))
    sampled = (mask + mirrored) / 2
    measured = sampled > 0
    spectrum = torch.fft.fft2(image, norm='ortho')
    observed = torch.fft.fft2(zero_filled.to(image.dtype), norm='ortho')
    observed = observed / sampled.clamp_min(0.5)
    projected = torch.where(measured, observed, spectrum)
    return torch.fft.ifft2(projected, norm='ortho').real


class PriorCrossAttention(nn.Module):
    """Φx of the AMGDM: pixels (queries) attend to dual-prior tokens.

    ``Φx = x + W_o · softmax(Q Kᵀ / √d) V`` with ``Q = W_q LN(x)`` per pixel
    and per head, ``K, V = W_kv(tokens)``, ``tokens = W_t(P)``: each of the V
    prior vectors (N, V, prior_dim) becomes ``tokens_per_prior`` tokens.

    Args:
        dim (int): Feature channels C (divisible by ``num_heads``).
        prior_dim (int): Length of a prior vector (CLIP ``embed_dim``).
        num_heads (int): Attention heads.
        tokens_per_prior (int): Key/value tokens per prior vector.
        bias (bool): Bias in the projections.
    """

    def __init__(self,
                 dim: int,
                 prior_dim: int,
                 num_heads: int = 1,
                 tokens_per_prior: int = 4,
                 bias: bool = False) -> None:
        super().__init__()
        if num_heads < 1 or dim % num_heads:
            raise ValueError(f'PriorCrossAttention: channels ({dim}) must be '
                             f'divisible by num_heads ({num_heads})')
        self.dim = dim
        self.num_heads = num_heads
        self.tokens_per_prior = tokens_per_prior
        self.norm = LayerNorm2d(dim)
        self.to_tokens = nn.Linear(prior_dim, dim * tokens_per_prior)
        self.q = nn.Conv2d(dim, dim, 1, bias=bias)
        self.kv = nn.Linear(dim, dim * 2, bias=bias)
        self.project_out = nn.Conv2d(dim, dim, 1, bias=bias)

    def forward(self, x: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        tokens = self.to_tokens(prior.to(x.dtype))  # (N, V, T·C)
        tokens = tokens.reshape(prior.shape[0], -1, c)  # (N, V·T, C)
        k, v = self.kv(tokens).chunk(2, dim=-1)
        d = c // self.num_heads
        q = self.q(self.norm(x)).reshape(n, self.num_heads, d, h * w)
        k = k.reshape(k.shape[0], -1, self.num_heads, d).transpose(1, 2)
        v = v.reshape(v.shape[0], -1, self.num_heads, d).transpose(1, 2)
        # (N, heads, HW, tokens): every pixel weighs the prior tokens
        attn = torch.matmul(q.transpose(-2, -1), k.transpose(-2, -1))
        attn = (attn / math.sqrt(d)).softmax(dim=-1)
        out = torch.matmul(attn, v).transpose(-2, -1).reshape(n, c, h, w)
        return x + self.project_out(out)


class AttentionMambaGDM(nn.Module):
    """AMGDM: ``z = x − ρ · Φᵀ(Φx − ŷ)`` (module docstring, Sec. 3.4.2).

    Args:
        dim (int): Feature channels C.
        prior_dim (int): Length of a prior vector.
        num_heads (int): Heads of the cross-attention Φ.
        tokens_per_prior (int): Prior tokens per prior vector.
        mamba_cfg (dict): Keyword arguments of Φᵀ's :class:`BiMamba`.
        physical_operator (bool): Use the known k-space operator (passed to
            :meth:`forward`) instead of the learned Φ / Φᵀ; the learned
            modules are then not built.
        step_init (float): Initial ρ.
        bias (bool): Bias in the attention projections.
    """

    def __init__(self,
                 dim: int,
                 prior_dim: int,
                 num_heads: int = 1,
                 tokens_per_prior: int = 4,
                 mamba_cfg: Optional[dict] = None,
                 physical_operator: bool = False,
                 step_init: float = 1.0,
                 bias: bool = False) -> None:
        super().__init__()
        self.physical_operator = physical_operator
        self.rho = nn.Parameter(torch.tensor([float(step_init)]))
        if not physical_operator:
            self.phi = PriorCrossAttention(dim, prior_dim, num_heads,
                                           tokens_per_prior, bias)
            self.phi_t = BiMamba(dim, **(mamba_cfg or {}))

    def gradient(self, x: torch.Tensor, y: torch.Tensor,
                 prior: Optional[torch.Tensor] = None,
                 operator=None) -> torch.Tensor:
        """``Φᵀ(Φx − ŷ)``, or ``AᴴAx − ŷ`` with the physical operator."""
        if self.physical_operator:
            if operator is None:
                raise ValueError(
                    'AttentionMambaGDM(physical_operator=True) needs the '
                    'k-space operator: pass operator=KSpaceMask (the '
                    "architecture builds it from the data samples' "
                    'kspace_mask)')
            return operator.AtA(x) - y
        if prior is None:
            raise ValueError('AttentionMambaGDM: the learned Φ needs prior '
                             'tokens (N, V, prior_dim)')
        return self.phi_t(self.phi(x, prior) - y)

    def forward(self, x: torch.Tensor, y: torch.Tensor,
                prior: Optional[torch.Tensor] = None,
                operator=None) -> torch.Tensor:
        return x - self.rho * self.gradient(x, y, prior, operator)


class FrequencyAwareBlock(nn.Module):
    """One MDPMM block (Eq. 4, E.2): Bi-Mamba on the high band, GDFN on the
    low band, fused by a convolution (module docstring).

    Args:
        dim (int): Channels C.
        pool_size (int): p of ``AvgPool_p`` (kernel = stride = p).
        ffn_expansion_factor (float): GDFN width factor.
        mamba_cfg (dict): Keyword arguments of the :class:`BiMamba`.
        frequency_decoupling (bool): False = ablation "w/o FD": both branches
            see z itself (GDFN at full resolution).
        fuse_kernel_size (int): Kernel of the fusing convolution (1).
        bias (bool): Bias in the GDFN and fusing convolutions.
    """

    def __init__(self,
                 dim: int,
                 pool_size: int = 2,
                 ffn_expansion_factor: float = 2.66,
                 mamba_cfg: Optional[dict] = None,
                 frequency_decoupling: bool = True,
                 fuse_kernel_size: int = 1,
                 bias: bool = False) -> None:
        super().__init__()
        if pool_size < 2:
            raise ValueError(f'FrequencyAwareBlock: pool_size must be >= 2 '
                             f'(1 leaves no high band), got {pool_size}')
        self.pool_size = pool_size
        self.frequency_decoupling = frequency_decoupling
        self.norm_high = LayerNorm2d(dim)
        self.high = BiMamba(dim, **(mamba_cfg or {}))
        self.norm_low = LayerNorm2d(dim)
        self.low = GDFN(dim, ffn_expansion_factor, bias)
        self.fuse = nn.Conv2d(2 * dim, dim, fuse_kernel_size,
                              padding=fuse_kernel_size // 2, bias=bias)

    def split(self, z: torch.Tensor):
        """``(x_low, x_high)``: the pooled map and ``z − Up(x_low)``."""
        x_low = F.avg_pool2d(z, self.pool_size, ceil_mode=True)
        return x_low, z - self._up(x_low, z)

    @staticmethod
    def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=like.shape[-2:], mode='bilinear',
                             align_corners=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.frequency_decoupling:
            x_low, x_high = self.split(z)
            low = self._up(self.low(self.norm_low(x_low)), z)
        else:
            x_high = z
            low = self.low(self.norm_low(z))
        high = self.high(self.norm_high(x_high))
        return z + self.fuse(torch.cat([high, low], dim=1))


class AMUnfoldingStage(nn.Module):
    """One unrolled PGD iteration: AMGDM (``gradient_descent``), then the
    MDPMM blocks (``proximal``)."""

    def __init__(self, gradient_descent: AttentionMambaGDM,
                 proximal: nn.Module) -> None:
        super().__init__()
        self.gradient_descent = gradient_descent
        self.proximal = proximal

    def forward(self, x, y, prior=None, operator=None) -> torch.Tensor:
        return self.proximal(self.gradient_descent(x, y, prior, operator))


@MODELS.register_module()
class VLDUNSegHead(nn.Module):
    """VL-DUN's Seg. Head, "a simple CNN" (E.2) on the final features.

    ``Conv3x3 -> BN -> ReLU`` twice, then ``Conv1x1 -> num_classes`` logits.

    Args:
        in_channels (int): Channels of the final stage (2C).
        num_classes (int): Output classes (background included).
        channels (int): Hidden width.
        num_convs (int): 3x3 conv layers before the classifier.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 channels: int = 64,
                 num_convs: int = 2) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f'VLDUNSegHead: num_classes must be >= 2 '
                             f'(background + foreground), got {num_classes}')
        layers: List[nn.Module] = []
        width = in_channels
        for _ in range(num_convs):
            layers += [nn.Conv2d(width, channels, 3, padding=1, bias=False),
                       nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
            width = channels
        layers.append(nn.Conv2d(width, num_classes, 1))
        self.layers = nn.Sequential(*layers)
        self.in_channels = in_channels
        self.num_classes = num_classes

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features)


@MODELS.register_module()
class VLDUN(BaseModule):
    """VL-DUN's Attention-Mamba unfolding network (module docstring).

    Args:
        in_channels (int): Image channels (1 for CT / MRI slices).
        dim (int): C, channels at level 1.
        num_blocks (sequence[int]): MDPMM blocks at levels 1-4.
        num_refinement_blocks (int): MDPMM blocks of the refinement stage.
        heads (sequence[int]): Cross-attention heads of the AMGDM at levels
            1-4.
        prior_dim (int): Length of a prior vector (the prior head's
            ``embed_dim``).
        num_prior_vectors (int): Prior vectors per image (2: modality and
            degradation, :class:`~dunseg.models.priors.CLIPDualPrior`).
        tokens_per_prior (int): Key/value tokens per prior vector.
        pool_size (int): MDPMM low-pass pooling size p.
        ffn_expansion_factor (float): GDFN width factor.
        mamba_cfg (dict, optional): :class:`BiMamba` arguments of every Mamba
            (``d_state``, ``expand``, ``scan_backend`` ...).
        frequency_decoupling (bool): False = ablation "w/o FD".
        physical_operator (bool): True = the known k-space operator in every
            gradient step (ablation); ``forward`` then needs ``operator``.
        use_prior (bool): False = ablation "w/o CLIP": learned prompts.
        num_learned_prompts (int): Size of the learned prompt bank when
            ``use_prior=False``.
        step_init (float): Initial ρ of every stage.
        zero_init_output (bool): Start the Rec. Head at zero, so the network
            begins as the identity (restored = zero-filled input).
        data_consistency (bool): Project the Rec. Head's image onto the
            slices consistent with the measured k-space samples (ours, off
            in the paper's configs; module docstring); ``forward`` then needs
            ``operator``.
        consistency_box (tuple[float, float], optional): With
            ``data_consistency``, also clip to this intensity range between
            two projections (the slices are normalised to [0, 1]).
        bias (bool): Bias in the convolutions.
        init_cfg (dict, optional): MMEngine init config.
    """

    stage_names = STAGE_NAMES
    stage_levels = STAGE_LEVELS

    def __init__(self,
                 in_channels: int = 1,
                 dim: int = 48,
                 num_blocks: Sequence[int] = (2, 2, 2, 2),
                 num_refinement_blocks: int = 2,
                 heads: Sequence[int] = (1, 2, 4, 8),
                 prior_dim: int = 512,
                 num_prior_vectors: int = 2,
                 tokens_per_prior: int = 4,
                 pool_size: int = 2,
                 ffn_expansion_factor: float = 2.66,
                 mamba_cfg: Optional[dict] = None,
                 frequency_decoupling: bool = True,
                 physical_operator: bool = False,
                 use_prior: bool = True,
                 num_learned_prompts: int = 8,
                 step_init: float = 1.0,
                 zero_init_output: bool = False,
                 data_consistency: bool = False,
                 consistency_box: Optional[Sequence[float]] = None,
                 bias: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(num_blocks) != 4 or len(heads) != 4:
            raise ValueError('VLDUN: num_blocks and heads need one entry per '
                             f'level (4), got {num_blocks} and {heads}')
        self.in_channels = in_channels
        self.out_channels = in_channels
        self.prior_dim = prior_dim
        self.num_prior_vectors = num_prior_vectors
        self.use_prior = use_prior
        self.physical_operator = physical_operator
        self.frequency_decoupling = frequency_decoupling
        if consistency_box is not None:
            if not data_consistency:
                raise ValueError('VLDUN: consistency_box alternates with the '
                                 'data-consistency projection; set '
                                 'data_consistency=True or drop it')
            if len(consistency_box) != 2 or \
                    consistency_box[0] >= consistency_box[1]:
                raise ValueError('VLDUN: consistency_box must be (low, high) '
                                 f'with low < high, got {consistency_box!r}')
            consistency_box = (float(consistency_box[0]),
                               float(consistency_box[1]))
        self.data_consistency = data_consistency
        self.consistency_box = consistency_box
        mamba_cfg = dict(mamba_cfg or {})

        def stage(level: int, channels: int, blocks: int) -> AMUnfoldingStage:
            gdm = AttentionMambaGDM(channels, prior_dim, heads[level - 1],
                                    tokens_per_prior, mamba_cfg,
                                    physical_operator, step_init, bias)
            proximal = nn.Sequential(*[
                FrequencyAwareBlock(channels, pool_size, ffn_expansion_factor,
                                    mamba_cfg, frequency_decoupling,
                                    bias=bias) for _ in range(blocks)
            ])
            return AMUnfoldingStage(gdm, proximal)

        c1, c2, c3, c4 = dim, dim * 2, dim * 4, dim * 8
        self.patch_embed = OverlapPatchEmbed(in_channels, c1, bias)
        self.patch_embed_y = OverlapPatchEmbed(in_channels, c1, bias)
        self.encoder_level1 = stage(1, c1, num_blocks[0])
        self.down1_2 = Downsample(c1)
        self.down1_2_y = Downsample(c1)
        self.encoder_level2 = stage(2, c2, num_blocks[1])
        self.down2_3 = Downsample(c2)
        self.down2_3_y = Downsample(c2)
        self.encoder_level3 = stage(3, c3, num_blocks[2])
        self.down3_4 = Downsample(c3)
        self.down3_4_y = Downsample(c3)
        self.latent = stage(4, c4, num_blocks[3])
        self.up4_3 = Upsample(c4)
        self.up4_3_y = Upsample(c4)
        self.reduce_chan_level3 = nn.Conv2d(c4, c3, 1, bias=bias)
        self.reduce_chan_level3_y = nn.Conv2d(c4, c3, 1, bias=bias)
        self.decoder_level3 = stage(3, c3, num_blocks[2])
        self.up3_2 = Upsample(c3)
        self.up3_2_y = Upsample(c3)
        self.reduce_chan_level2 = nn.Conv2d(c3, c2, 1, bias=bias)
        self.reduce_chan_level2_y = nn.Conv2d(c3, c2, 1, bias=bias)
        self.decoder_level2 = stage(2, c2, num_blocks[1])
        self.up2_1 = Upsample(c2)
        self.up2_1_y = Upsample(c2)
        # as VLU-Net: level 1 of the decoder keeps the concatenated 2C
        self.decoder_level1 = stage(1, c2, num_blocks[0])
        self.refinement = stage(1, c2, num_refinement_blocks)
        self.final_channels = c2
        self.stage_channels = (c1, c2, c3, c4, c3, c2, c2, c2)
        # Rec. Head: W⁻¹ back to the image, plus the observation
        self.output = nn.Conv2d(c2, in_channels, 3, padding=1, bias=bias)
        if zero_init_output:
            nn.init.zeros_(self.output.weight)
        if not use_prior and not physical_operator:
            # ablation "w/o CLIP": PromptIR-style learned prompts
            self.learned_prompts = nn.Parameter(
                torch.randn(num_learned_prompts, prior_dim) * 0.02)
            self.prompt_weights = nn.Linear(
                c1, num_prior_vectors * num_learned_prompts)

    @property
    def needs_operator(self) -> bool:
        """Whether ``forward`` needs the batch's k-space operator."""
        return self.physical_operator or self.data_consistency

    @property
    def stages(self) -> List[AMUnfoldingStage]:
        return [getattr(self, name) for name in self.stage_names]

    def dim_of_stage(self, name: str) -> int:
        """Feature channels of stage ``name`` (for per-stage readouts)."""
        return self.stage_channels[self.stage_names.index(name)]

    def _prior_tokens(self, prior: Optional[torch.Tensor],
                      y1: torch.Tensor) -> Optional[torch.Tensor]:
        """(N, V, prior_dim) prior vectors for the cross-attention."""
        n = y1.shape[0]
        if self.physical_operator:
            return None
        if not self.use_prior:
            logits = self.prompt_weights(y1.mean(dim=(2, 3)))
            weights = logits.view(n, self.num_prior_vectors, -1).softmax(-1)
            return torch.matmul(weights, self.learned_prompts)
        if prior is None:
            raise ValueError(
                'VLDUN(use_prior=True) needs the dual prior: forward(inputs, '
                f'prior) with prior of shape (N, {self.num_prior_vectors}, '
                f'{self.prior_dim}) (CLIPDualPrior "embedding"), or build it '
                'with use_prior=False')
        if prior.dim() == 2:
            prior = prior.unsqueeze(1)
        if prior.dim() != 3 or prior.shape[0] != n or \
                prior.shape[-1] != self.prior_dim:
            raise ValueError(
                f'VLDUN: prior must have shape ({n}, V, {self.prior_dim}) '
                f'(batch, prior vectors, prior_dim), got '
                f'{tuple(prior.shape)}; prior_dim must equal the prior '
                "head's embed_dim")
        return prior

    def forward(self,
                inputs: torch.Tensor,
                prior: Optional[torch.Tensor] = None,
                operator=None) -> List[State]:
        """Restore zero-filled slices ``inputs`` (N, C, H, W), H and W
        multiples of 8.

        Args:
            inputs (Tensor): The observation y (zero-filled images).
            prior (Tensor, optional): Dual prior (N, V, prior_dim) or
                (N, prior_dim); required with ``use_prior`` (learned Φ).
            operator (KSpaceMask, optional): The batch's k-space operator on
                the full-resolution grid; required with
                ``physical_operator``.

        Returns:
            list[dict]: 8 states ``{'x': features}`` in ``stage_names``
            order; the last also holds ``'image'`` (Rec. Head output).
        """
        if inputs.dim() != 4 or inputs.shape[1] != self.in_channels:
            raise ValueError(f'VLDUN expects (N, {self.in_channels}, H, W) '
                             f'images, got {tuple(inputs.shape)}')
        h, w = inputs.shape[-2:]
        if h % 8 or w % 8:
            raise ValueError(
                f'VLDUN needs H and W divisible by 8 (3 down-samplings), got '
                f'{h}x{w}; pad or crop the slices')
        operators = self._level_operators(operator, (h, w))
        if self.data_consistency and operator is not None and tuple(
                operator.mask.shape[-2:]) != (h, w):
            raise ValueError(
                f'VLDUN: the k-space mask is '
                f'{tuple(operator.mask.shape[-2:])} but the slices are '
                f'{(h, w)}; data consistency needs unpadded slices whose '
                'size is a multiple of 8')
        y1 = self.patch_embed_y(inputs)
        prior = self._prior_tokens(prior, y1)
        states: List[State] = []

        def run(name: str, x, y):
            level = self.stage_levels[self.stage_names.index(name)]
            x = getattr(self, name)(x, y, prior, operators[level])
            states.append(dict(x=x))
            return x

        e1 = run('encoder_level1', self.patch_embed(inputs), y1)
        y2 = self.down1_2_y(y1)
        e2 = run('encoder_level2', self.down1_2(e1), y2)
        y3 = self.down2_3_y(y2)
        e3 = run('encoder_level3', self.down2_3(e2), y3)
        y4 = self.down3_4_y(y3)
        x = run('latent', self.down3_4(e3), y4)

        x = self.reduce_chan_level3(torch.cat([self.up4_3(x), e3], 1))
        y = self.reduce_chan_level3_y(torch.cat([self.up4_3_y(y4), y3], 1))
        x = run('decoder_level3', x, y)
        x = self.reduce_chan_level2(torch.cat([self.up3_2(x), e2], 1))
        y = self.reduce_chan_level2_y(torch.cat([self.up3_2_y(y), y2], 1))
        x = run('decoder_level2', x, y)
        x = torch.cat([self.up2_1(x), e1], 1)
        y = torch.cat([self.up2_1_y(y), y1], 1)
        x = run('decoder_level1', x, y)
        x = run('refinement', x, y)
        image = self.output(x) + inputs
        if self.data_consistency:
            image = self._consistent(image, inputs, operator)
        states[-1]['image'] = image
        return states

    def _consistent(self, image: torch.Tensor, inputs: torch.Tensor,
                    operator) -> torch.Tensor:
        """Projection onto the measurements, alternated with the box."""
        if operator is None:
            raise ValueError(
                'VLDUN(data_consistency=True) needs the k-space operator: '
                'forward(inputs, operator=kspace_operator_from_masks('
                'data_samples)); the samples need kspace_mask '
                '(KSpaceUndersample + PackMedicalInputs)')
        image = project_onto_measurements(image, inputs, operator.mask)
        if self.consistency_box is not None:
            image = image.clamp(*self.consistency_box)
            image = project_onto_measurements(image, inputs, operator.mask)
        return image

    def _level_operators(self, operator, size) -> Dict[int, object]:
        """Level -> k-space operator on that level's grid (centre crops)."""
        if not self.physical_operator:
            return {level: None for level in range(1, 5)}
        if operator is None:
            raise ValueError(
                'VLDUN(physical_operator=True) needs the k-space operator: '
                'forward(inputs, operator=kspace_operator_from_masks('
                'data_samples)); the samples need kspace_mask '
                '(KSpaceUndersample + PackMedicalInputs)')
        from dunseg.physics.operators import KSpaceMask
        # the operator keeps its mask in FFT order; back to centred to crop
        centred = torch.fft.fftshift(operator.mask, dim=(-2, -1))
        if tuple(centred.shape[-2:]) != tuple(size):
            raise ValueError(
                f'VLDUN: the k-space mask is {tuple(centred.shape[-2:])} but '
                f'the slices are {tuple(size)}; the physical operator needs '
                'unpadded slices whose size is a multiple of 8')
        operators = {}
        for level in range(1, 5):
            scale = 2**(level - 1)
            crop = centre_crop_kspace_mask(
                centred, (size[0] // scale, size[1] // scale))
            operators[level] = KSpaceMask(crop, centered=True,
                                          real_input=True)
        return operators


__all__ = [
    'VLDUN', 'VLDUNSegHead', 'AttentionMambaGDM', 'FrequencyAwareBlock',
    'PriorCrossAttention', 'AMUnfoldingStage', 'centre_crop_kspace_mask',
    'project_onto_measurements',
    'STAGE_NAMES', 'STAGE_LEVELS'
]
