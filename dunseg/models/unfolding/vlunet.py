"""VLU-Net: hierarchical feature-level proximal-gradient unfolding for
all-in-one image restoration.

Zeng, Wang, Chen, Su, Liu, "Vision-Language Gradient Descent-driven All-in-One
Deep Unfolding Networks", CVPR 2025 (arXiv 2503.16930); official code
github.com/xianggkl/VLU-Net (``net/Final.py``).

A degraded image ``y = Φx + n`` is restored by proximal gradient descent (PGD)
whose degradation operator Φ is not chosen by hand but selected, per image, by
a CLIP degradation vector ``d_I = Ê_I(y)`` (the prior head's ``embedding``).
The iterations run on features: ``W`` (``patch_embed``, Conv3x3 3 -> C) lifts
the input to C channels, and a second embedding (``patch_embed_i``) of the
same input gives the degraded features ŷ, which are resampled to every level
of a 4-level U-shape (ŷ_(l)) but never updated. Stage k at level l computes
the paper's Sec. 3 updates: the degradation-key and Φ̃ equations of the
VLM-guided D-GDM and the feature-level gradient step of the hierarchical
unfolding (the z-update, the PGD gradient step on ½||Φx − y||² with Φ
replaced by Φ̃), then the proximal mapping module (PMM):

    key_(l) = Σ_i softmax(Linear(d_I))_i · K_(l),i          (degradation key)
    Φ̃(x, d_I) = MDTA(q = x, k = key_(l), v = x)             (cross attention)
    z^(k)_(l) = x^(k-1)_(l) − ρ Φᵀ(Φ̃(x^(k-1)_(l), d_I) − ŷ_(l))    (D-GDM)
    x^(k)_(l) = prox(z^(k)_(l))                               (PMM)

with K_(l) the learnable "degradation key database" ``prompt_param``
(1, de_dim, P_l, S_l, S_l), ``torch.rand`` init, the weighted key bilinearly
resized to the feature size; Φ̃ = :class:`~dunseg.models.layers.CrossMDTA`
(``phi``, 2 heads), Φᵀ = self-attention :class:`~dunseg.models.layers.MDTA`
(``phit``, 2 heads), ρ = ``r`` a learnable scalar (init 1), and prox a stack
of Restormer transformer blocks. The 8 non-shared stages sit on 4 levels
(encoder 1-3, latent, decoder 3-1, refinement; blocks {4, 6, 6, 8} + 4) with
``P_l = (C_l // 10) · l`` and ``S_l = 96 // l`` (l = 1..4; the decoder level 1
and refinement stages work at 2C channels, so P = 9 there). The output is
``Conv3x3(2C -> 3)(x) + y`` (``W⁻¹`` plus the global residual).
With the defaults: 35,353,028 parameters for ``de_dim=7`` (5-task) and
34,364,852 for ``de_dim=5`` (3-task); 42.03 G MACs at 128 x 128 for
``de_dim=7`` (convolutions and linears as thop counts them, attention matrix
products excluded; the official thop figure is 42.0 G).

Where the official code differs from the paper:

- ``separate_y_downsampler`` (default False, the official network): the
  official encoder resamples the y stream from level 1 to 2 with x's
  ``down1_2`` and leaves its own ``down1_2_i`` unused, which is what the
  released weights were trained with. True is a deliberate departure, the
  paper's separate y path (``down1_2_i``, like every other y resampler);
  only configs that say so turn it on. The module exists either way, so
  parameter counts and state dicts are identical.
- ``use_prior=False``: the official no-CLIP branch calls ``phi`` without a
  key and crashes. Here the key is the uniform average of the database
  (the official formula with the Linear's logits fixed to zero) and the
  Linear layers are not built: 8 x (prior_dim · de_dim + de_dim) fewer
  parameters (28,728 for de_dim 7: 35,324,300; 20,520 for de_dim 5:
  34,344,332). Any prior passed to ``forward`` is then ignored.
- The official GDM and the transformer blocks are always bias-free with
  'WithBias' layer norms whatever the constructor says; here ``bias`` and
  ``layer_norm_type`` apply everywhere (the defaults give the official net).
"""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from dunseg.registry import MODELS

from ..layers.restormer import (
    MDTA,
    CrossMDTA,
    Downsample,
    OverlapPatchEmbed,
    RestormerBlocks,
    Upsample,
)

State = Dict[str, torch.Tensor]

STAGE_NAMES = ('encoder_level1', 'encoder_level2', 'encoder_level3', 'latent',
               'decoder_level3', 'decoder_level2', 'decoder_level1',
               'refinement')


class DegradationGuidedGDM(nn.Module):
    """D-GDM: ``x − r · Φᵀ(Φ̃(x, key(d_I)) − ŷ)`` (official ``GDM``).

    Args:
        dim (int): Feature channels C.
        prompt_dim (int): Channels P of a database key.
        key_size (int): Spatial size S of a database key (S x S).
        de_dim (int): Number of keys in the database (degradation classes).
        num_heads (int): Heads of Φ̃ and Φᵀ (2, official, at every level).
        prior_dim (int): Length of the degradation vector d_I.
        use_prior (bool): Weight the keys with ``softmax(Linear(d_I))``;
            False averages them uniformly and builds no Linear.
        bias (bool): Bias in the attention convolutions.
    """

    def __init__(self,
                 dim: int,
                 prompt_dim: int,
                 key_size: int,
                 de_dim: int = 7,
                 num_heads: int = 2,
                 prior_dim: int = 512,
                 use_prior: bool = True,
                 bias: bool = False) -> None:
        super().__init__()
        if prompt_dim < 1 or key_size < 1 or de_dim < 1:
            raise ValueError(
                'DegradationGuidedGDM: prompt_dim, key_size and de_dim must '
                f'be >= 1, got {prompt_dim}, {key_size}, {de_dim} (for small '
                'VLUNet widths set prompt_dim_base / key_spatial_base)')
        self.de_dim = de_dim
        self.prior_dim = prior_dim
        self.use_prior = use_prior
        self.r = nn.Parameter(torch.ones(1))
        self.prompt_param = nn.Parameter(
            torch.rand(1, de_dim, prompt_dim, key_size, key_size))
        self.phi = CrossMDTA(dim, num_heads, prompt_dim, bias)
        self.phit = MDTA(dim, num_heads, bias)
        self.linear = nn.Linear(prior_dim, de_dim) if use_prior else None

    def degradation_weights(self,
                            prior: Optional[torch.Tensor]) -> torch.Tensor:
        """``softmax(Linear(d_I))`` (N, de_dim), or uniform (1, de_dim)."""
        if not self.use_prior:
            return self.prompt_param.new_full((1, self.de_dim),
                                              1.0 / self.de_dim)
        return F.softmax(self.linear(prior), dim=1)

    def degradation_key(self, prior: Optional[torch.Tensor],
                        size) -> torch.Tensor:
        """The weighted key resized to ``size``: (N or 1, P, H, W)."""
        database = self.prompt_param[0]  # (de_dim, P, S, S)
        weights = self.degradation_weights(prior)
        key = torch.matmul(weights, database.flatten(1))
        key = key.view(weights.shape[0], *database.shape[1:])
        if tuple(key.shape[-2:]) != tuple(size):
            key = F.interpolate(
                key, size=size, mode='bilinear', align_corners=False)
        return key

    def forward(self, x: torch.Tensor, y: torch.Tensor,
                prior: Optional[torch.Tensor] = None) -> torch.Tensor:
        key = self.degradation_key(prior, x.shape[-2:])
        return x - self.r * self.phit(self.phi(x, key) - y)


class UnfoldingStage(nn.Module):
    """One unrolled PGD iteration: D-GDM (``gradient_descent``), then the
    proximal mapping module (``denoiser``, official ``DUN_BaseBlock``)."""

    def __init__(self, gradient_descent: DegradationGuidedGDM,
                 denoiser: nn.Module) -> None:
        super().__init__()
        self.gradient_descent = gradient_descent
        self.denoiser = denoiser

    def forward(self, x: torch.Tensor, y: torch.Tensor,
                prior: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.denoiser(self.gradient_descent(x, y, prior))


@MODELS.register_module()
class VLUNet(BaseModule):
    """VLU-Net backbone: 8 D-GDM + PMM stages over 4 levels (module docstring).

    Args:
        de_dim (int): Keys per database = degradation classes (7 for the
            5-task model, 5 for the 3-task and single-task models).
        in_channels (int): Image channels in.
        out_channels (int): Image channels out (= ``in_channels``, the output
            adds the input image).
        dim (int): C, channels at level 1 (48).
        num_blocks (sequence[int]): Transformer blocks of the proximal modules
            at levels 1-4 ((4, 6, 6, 8)).
        num_refinement_blocks (int): Blocks of the refinement stage (4).
        heads (sequence[int]): Attention heads of the proximal modules at
            levels 1-4 ((1, 2, 4, 8)).
        ffn_expansion_factor (float): GDFN width factor (2.66).
        bias (bool): Bias in every convolution (official: False).
        layer_norm_type (str): 'WithBias' or 'BiasFree'.
        gdm_heads (int): Heads of Φ̃ and Φᵀ in every D-GDM (2).
        prior_dim (int): Length of the degradation vector (512 = CLIP
            ViT-B-32); must equal the prior head's ``embed_dim``.
        use_prior (bool): False = no-CLIP variant (see module docstring).
        key_spatial_base (int): S_l = key_spatial_base // l (96).
        prompt_dim_base (int, optional): None = official P = (C_l // 10) · l;
            an int b gives P = b · l (for narrow nets where C_l < 10).
        separate_y_downsampler (bool): Resample y with its own
            ``down1_2_i`` (the paper) instead of x's ``down1_2`` (official
            code and weights); see the module docstring.
        proximal_cfg (dict | list[dict], optional): Build each stage's
            proximal module through ``MODELS`` with ``dim`` (the stage's
            channels) injected, instead of Restormer blocks; a list gives
            one config per stage (8). E.g. ``dict(type='RestormerBlocks',
            num_blocks=2)`` or an mmagic network wrapper.
        zero_init_output (bool): Initialise the output conv to zero, so
            training starts from the identity (restored = degraded) instead
            of the identity plus a random residual; the official code uses
            PyTorch's default init (False).
        init_cfg (dict, optional): MMEngine init config; None keeps PyTorch's
            default initialisation (official).
    """

    stage_names = STAGE_NAMES

    def __init__(self,
                 de_dim: int = 7,
                 in_channels: int = 3,
                 out_channels: int = 3,
                 dim: int = 48,
                 num_blocks: Sequence[int] = (4, 6, 6, 8),
                 num_refinement_blocks: int = 4,
                 heads: Sequence[int] = (1, 2, 4, 8),
                 ffn_expansion_factor: float = 2.66,
                 bias: bool = False,
                 layer_norm_type: str = 'WithBias',
                 gdm_heads: int = 2,
                 prior_dim: int = 512,
                 use_prior: bool = True,
                 key_spatial_base: int = 96,
                 prompt_dim_base: Optional[int] = None,
                 separate_y_downsampler: bool = False,
                 proximal_cfg: Optional[Union[dict, List[dict]]] = None,
                 zero_init_output: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(num_blocks) != 4 or len(heads) != 4:
            raise ValueError('VLUNet: num_blocks and heads need one entry per '
                             f'level (4), got {num_blocks} and {heads}')
        if out_channels != in_channels:
            raise ValueError(
                f'VLUNet: out_channels ({out_channels}) must equal '
                f'in_channels ({in_channels}) for the global residual')
        if isinstance(proximal_cfg, (list, tuple)) and len(proximal_cfg) != 8:
            raise ValueError('VLUNet: proximal_cfg as a list needs 8 configs '
                             f'(one per stage), got {len(proximal_cfg)}')
        self.de_dim = de_dim
        self.prior_dim = prior_dim
        self.use_prior = use_prior
        self.separate_y_downsampler = separate_y_downsampler
        self.in_channels = in_channels
        self.out_channels = out_channels

        def stage(index: int, level: int, channels: int, level_heads: int,
                  blocks: int) -> UnfoldingStage:
            if prompt_dim_base is None:
                prompt_dim = (channels // 10) * level
            else:
                prompt_dim = prompt_dim_base * level
            gdm = DegradationGuidedGDM(
                channels, prompt_dim, key_spatial_base // level, de_dim,
                gdm_heads, prior_dim, use_prior, bias)
            if proximal_cfg is None:
                denoiser = RestormerBlocks(channels, blocks, level_heads,
                                           ffn_expansion_factor, bias,
                                           layer_norm_type)
            else:
                cfg = (proximal_cfg[index] if isinstance(
                    proximal_cfg, (list, tuple)) else proximal_cfg)
                denoiser = MODELS.build(dict(cfg, dim=channels))
            return UnfoldingStage(gdm, denoiser)

        c1, c2, c3, c4 = dim, dim * 2, dim * 4, dim * 8
        self.patch_embed = OverlapPatchEmbed(in_channels, c1, bias)
        self.patch_embed_i = OverlapPatchEmbed(in_channels, c1, bias)
        self.encoder_level1 = stage(0, 1, c1, heads[0], num_blocks[0])
        self.down1_2 = Downsample(c1)
        self.down1_2_i = Downsample(c1)
        self.encoder_level2 = stage(1, 2, c2, heads[1], num_blocks[1])
        self.down2_3 = Downsample(c2)
        self.down2_3_i = Downsample(c2)
        self.encoder_level3 = stage(2, 3, c3, heads[2], num_blocks[2])
        self.down3_4 = Downsample(c3)
        self.down3_4_i = Downsample(c3)
        self.latent = stage(3, 4, c4, heads[3], num_blocks[3])
        self.up4_3 = Upsample(c4)
        self.up4_3_i = Upsample(c4)
        self.reduce_chan_level3 = nn.Conv2d(c4, c3, 1, bias=bias)
        self.reduce_chan_level3_img = nn.Conv2d(c4, c3, 1, bias=bias)
        self.decoder_level3 = stage(4, 3, c3, heads[2], num_blocks[2])
        self.up3_2 = Upsample(c3)
        self.up3_2_i = Upsample(c3)
        self.reduce_chan_level2 = nn.Conv2d(c3, c2, 1, bias=bias)
        self.reduce_chan_level2_img = nn.Conv2d(c3, c2, 1, bias=bias)
        self.decoder_level2 = stage(5, 2, c2, heads[1], num_blocks[1])
        self.up2_1 = Upsample(c2)
        self.up2_1_i = Upsample(c2)
        # Level 1 of the decoder keeps the concatenated 2C channels.
        self.decoder_level1 = stage(6, 1, c2, heads[0], num_blocks[0])
        self.refinement = stage(7, 1, c2, heads[0], num_refinement_blocks)
        self.output = nn.Conv2d(c2, out_channels, 3, padding=1, bias=bias)
        if zero_init_output:
            # W⁻¹ = 0: the network starts as the identity map (x̂ = y)
            nn.init.zeros_(self.output.weight)

    @property
    def stages(self) -> List[UnfoldingStage]:
        """The 8 stages in execution order (names in ``stage_names``)."""
        return [getattr(self, name) for name in self.stage_names]

    def _check_inputs(self, inputs: torch.Tensor,
                      prior: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
        if inputs.dim() != 4 or inputs.shape[1] != self.in_channels:
            raise ValueError(
                f'VLUNet expects images of shape (N, {self.in_channels}, H, '
                f'W), got {tuple(inputs.shape)}')
        h, w = inputs.shape[-2:]
        if h % 8 or w % 8:
            raise ValueError(
                f'VLUNet needs H and W divisible by 8 (3 down-samplings), got '
                f'{h}x{w}; pad the input (the Restorer pads to a multiple '
                'of 8) or crop it')
        if not self.use_prior:
            return None
        if prior is None:
            raise ValueError(
                'VLUNet(use_prior=True) needs the degradation vector: call '
                'forward(inputs, prior) with prior of shape (N, '
                f'{self.prior_dim}) (e.g. a CLIPDegradationPrior embedding), '
                'or build it with use_prior=False')
        if prior.dim() != 2 or prior.shape != (inputs.shape[0],
                                               self.prior_dim):
            raise ValueError(
                f'VLUNet: prior must have shape ({inputs.shape[0]}, '
                f'{self.prior_dim}) (batch, prior_dim), got '
                f'{tuple(prior.shape)}; prior_dim must equal the prior '
                "head's embed_dim")
        return prior.to(inputs.dtype)

    def forward(self,
                inputs: torch.Tensor,
                prior: Optional[torch.Tensor] = None) -> List[State]:
        """Restore ``inputs`` (N, C, H, W), H and W multiples of 8.

        Args:
            inputs (Tensor): Degraded images (the observation y).
            prior (Tensor, optional): Degradation vectors d_I (N, prior_dim);
                required when ``use_prior`` and ignored otherwise.

        Returns:
            list[dict]: 8 states ``{'x': features}`` in ``stage_names``
            order; the last one also holds ``'image'``, the restored image
            (output conv + input).
        """
        prior = self._check_inputs(inputs, prior)
        states: List[State] = []

        def run(stage: UnfoldingStage, x, y):
            x = stage(x, y, prior)
            states.append(dict(x=x))
            return x

        y1 = self.patch_embed_i(inputs)
        e1 = run(self.encoder_level1, self.patch_embed(inputs), y1)
        y2 = (self.down1_2_i if self.separate_y_downsampler else
              self.down1_2)(y1)
        e2 = run(self.encoder_level2, self.down1_2(e1), y2)
        y3 = self.down2_3_i(y2)
        e3 = run(self.encoder_level3, self.down2_3(e2), y3)
        y4 = self.down3_4_i(y3)
        x = run(self.latent, self.down3_4(e3), y4)

        x = self.reduce_chan_level3(torch.cat([self.up4_3(x), e3], 1))
        y = self.reduce_chan_level3_img(torch.cat([self.up4_3_i(y4), y3], 1))
        x = run(self.decoder_level3, x, y)
        x = self.reduce_chan_level2(torch.cat([self.up3_2(x), e2], 1))
        y = self.reduce_chan_level2_img(torch.cat([self.up3_2_i(y), y2], 1))
        x = run(self.decoder_level2, x, y)
        x = torch.cat([self.up2_1(x), e1], 1)
        y = torch.cat([self.up2_1_i(y), y1], 1)
        x = run(self.decoder_level1, x, y)
        x = run(self.refinement, x, y)
        states[-1]['image'] = self.output(x) + inputs
        return states


__all__ = ['VLUNet', 'DegradationGuidedGDM', 'UnfoldingStage', 'STAGE_NAMES']
