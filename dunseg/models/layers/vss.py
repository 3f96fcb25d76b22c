"""Visual state-space blocks of VMamba / MambaIR: :class:`SS2D`, :class:`CAB`
and :class:`VSSBlock`.

Source: MambaIR (Guo et al., "MambaIR: A Simple Baseline for Image
Restoration with State-Space Model", ECCV 2024), ``basicsr/archs/
mambair_arch.py`` of github.com/csguoh/MambaIR, whose ``SS2D`` is VMamba's
(Liu et al., 2024) 2-D selective scan. Re-implemented here on
:func:`~dunseg.models.layers.selective_scan.selective_scan`, so it runs on
CPU (and uses mamba-ssm's kernel on CUDA when installed). Parameter names
and shapes equal MambaIR's, so a MambaIR ``VSSBlock`` state dict loads with
``strict=True``.

**SS2D** (2-D selective scan) on a channels-last map ``x`` (B, H, W, C),
``E = expand · C``, ``R = ceil(C / 16)``, N = ``d_state``:

1. ``x, z = split(in_proj(x))`` (E channels each); ``x = silu(DWConv(x))``
   (``d_conv`` × ``d_conv``, per channel, with bias).
2. Cross-scan: the map is read as four sequences of length L = H·W:
   row-major, column-major, and both reversed (k = 0..3).
3. Per direction k: ``Δ, B, C = split(x_proj_weight[k] · x_k)`` (R, N, N
   rows), ``Δ = dt_projs_weight[k] · Δ``, then the selective scan (eqs.
   (1)-(2) of ``selective_scan``) with ``A = -exp(A_logs)``, ``D = Ds``,
   ``Δ = softplus(Δ + dt_projs_bias[k])``. The four directions are one scan
   over 4E channels with B and C grouped by direction.
4. Cross-merge: each direction's output is put back in row-major order and
   the four are summed; ``out = out_proj(LayerNorm(y) · silu(z))``.

**CAB** (channel-attention block, from RCAN via MambaIR): ``Conv3x3(C →
C/r) → GELU → Conv3x3(C/r → C) → x · sigmoid(Conv1x1(ReLU(Conv1x1(GAP(x)))))``
with ``r = 3`` (6 for light SR) and a squeeze of 30 in the attention, both
integer divisions as in MambaIR. Below 30 channels MambaIR's attention has a
zero-width hidden layer and its block cannot run (``conv2d`` rejects the
empty weight); here that hidden width is at least 1, so narrow blocks work
(and have C + 1 + C more parameters than the formula below).

**VSSBlock** (MambaIR's residual state-space block) on (B, C, H, W)::

    x = x · skip_scale  + DropPath(SS2D(LN1(x)))       # SS2D: d_state 16,
    x = x · skip_scale2 + CAB(LN2(x))                  # expand 2, d_conv 3

with per-channel learnable ``skip_scale``/``skip_scale2`` (init 1) and
LayerNorms (eps 1e-5, MambaIR's ``BasicLayer`` passes ``nn.LayerNorm``) over
the channels of each pixel.

Parameter count of one ``VSSBlock`` at width C (E = 2C, R = ceil(C/16),
N = 16, conv 3x3, r = 3, squeeze 30), from MambaIR's definitions::

    LN1, LN2, skip scales:  2C + 2C + C + C
    SS2D: in_proj 2E·C, conv2d 9E + E, x_proj_weight 4(R + 2N)E,
          dt_projs_weight 4ER, dt_projs_bias 4E, A_logs 4EN, Ds 4E,
          out_norm 2E, out_proj E·C
    CAB:  9C·⌊C/3⌋ + ⌊C/3⌋ + 9⌊C/3⌋·C + C + C·⌊C/30⌋ + ⌊C/30⌋ + ⌊C/30⌋·C + C

e.g. 180 (MambaIR's classic SR and denoising width): 503,346 parameters;
60 with ``is_light_sr`` (its lightweight SR width): 62,412
(``tests/test_models/test_layers/test_vss.py`` pins both).

Not reproduced: MambaIR's network-level weight init (truncated normal
std 0.02 for every ``nn.Linear``) belongs to the network that stacks the
blocks; here linear layers keep PyTorch's default init, while the state-space
parameters get Mamba's (S4D-real ``A``, Δ bias, ``D = 1``; see
:mod:`dunseg.models.layers.mamba`).
"""
import math
from typing import Union

import torch
import torch.nn.functional as F
from mmcv.cnn.bricks import DropPath
from torch import nn

from dunseg.registry import MODELS

from .mamba import dt_projection_init, s4d_real_A_log
from .selective_scan import SelectiveScan


def _check_odd_kernel(d_conv: int, name: str) -> None:
    if d_conv < 1 or d_conv % 2 == 0:
        raise ValueError(
            f'{name}: d_conv must be odd so that the map keeps its size '
            f'(padding (d_conv - 1) // 2), got {d_conv}')


@MODELS.register_module()
class SS2D(nn.Module):
    """VMamba / MambaIR 2-D selective scan over four directions.

    Args:
        d_model (int): Channels C of the input and output.
        d_state (int): State size N per channel.
        d_conv (int): Depthwise convolution size (odd).
        expand (float): Inner width E = int(expand · C).
        dt_rank (int | str): Rank R of the Δ projection; ``'auto'`` =
            ceil(C / 16).
        dt_min, dt_max (float): Range of the initial softplus(Δ bias)
            (log-uniform), floored at ``dt_init_floor``.
        dt_init (str): ``'random'`` (uniform ±R^-0.5·dt_scale) or
            ``'constant'`` for the Δ projection weights.
        dt_scale (float): Scale of that init.
        dt_init_floor (float): Lower bound of the initial Δ.
        dropout (float): Dropout after ``out_proj``.
        conv_bias (bool): Bias in the depthwise convolution.
        bias (bool): Bias in ``in_proj`` and ``out_proj``.
        scan_backend (str): Backend of the selective scan (``'auto'``,
            ``'mamba_ssm'``, ``'cpu_kernel'``, ``'torch'``).

    Shape:
        (B, H, W, C) -> (B, H, W, C), channels last as in MambaIR.
    """
    num_directions = 4

    def __init__(self,
                 d_model: int,
                 d_state: int = 16,
                 d_conv: int = 3,
                 expand: float = 2.,
                 dt_rank: Union[int, str] = 'auto',
                 dt_min: float = 0.001,
                 dt_max: float = 0.1,
                 dt_init: str = 'random',
                 dt_scale: float = 1.0,
                 dt_init_floor: float = 1e-4,
                 dropout: float = 0.,
                 conv_bias: bool = True,
                 bias: bool = False,
                 scan_backend: str = 'auto') -> None:
        super().__init__()
        _check_odd_kernel(d_conv, 'SS2D')
        self.d_model = d_model
        self.d_state = d_state
        self.d_conv = d_conv
        self.expand = expand
        self.d_inner = int(expand * d_model)
        self.dt_rank = (math.ceil(d_model / 16)
                        if dt_rank == 'auto' else int(dt_rank))
        k, inner = self.num_directions, self.d_inner

        self.in_proj = nn.Linear(d_model, inner * 2, bias=bias)
        self.conv2d = nn.Conv2d(
            inner, inner, d_conv, padding=(d_conv - 1) // 2, groups=inner,
            bias=conv_bias)
        self.act = nn.SiLU()
        # x_proj_weight[k]: (R + 2N, E), nn.Linear's default init per
        # direction (MambaIR builds four nn.Linear and stacks their weights)
        x_proj = [
            nn.Linear(inner, self.dt_rank + 2 * d_state, bias=False)
            for _ in range(k)
        ]
        self.x_proj_weight = nn.Parameter(
            torch.stack([layer.weight.detach() for layer in x_proj]))
        dt_projs = [
            dt_projection_init(self.dt_rank, inner, dt_scale, dt_init, dt_min,
                               dt_max, dt_init_floor) for _ in range(k)
        ]
        self.dt_projs_weight = nn.Parameter(
            torch.stack([layer.weight.detach() for layer in dt_projs]))
        self.dt_projs_bias = nn.Parameter(
            torch.stack([layer.bias.detach() for layer in dt_projs]))
        self.A_logs = nn.Parameter(
            s4d_real_A_log(d_state, inner).repeat(k, 1))  # (K·E, N)
        self.A_logs._no_weight_decay = True
        self.Ds = nn.Parameter(torch.ones(k * inner))
        self.Ds._no_weight_decay = True
        self.scan = SelectiveScan(scan_backend)

        self.out_norm = nn.LayerNorm(inner)
        self.out_proj = nn.Linear(inner, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout) if dropout > 0. else None

    def cross_scan(self, x: torch.Tensor) -> torch.Tensor:
        """(B, E, H, W) -> (B, 4, E, L): row-major, column-major, reversed."""
        rows = x.flatten(2)
        cols = x.transpose(2, 3).flatten(2)
        forward = torch.stack([rows, cols], dim=1)
        return torch.cat([forward, forward.flip(-1)], dim=1)

    @staticmethod
    def cross_merge(y: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """(B, 4, E, L) -> (B, E, L): undo each direction's order and sum."""
        batch, _, inner, length = y.shape
        back = y[:, 2:].flip(-1)
        row_major = y[:, 0] + back[:, 0]
        col_major = y[:, 1] + back[:, 1]
        col_major = col_major.view(batch, inner, width, height).transpose(2, 3)
        return row_major + col_major.reshape(batch, inner, length)

    def forward_core(self, x: torch.Tensor) -> torch.Tensor:
        """Steps 2-4 up to the merge: (B, E, H, W) -> (B, E, L) float32."""
        batch, inner, height, width = x.shape
        length = height * width
        k = self.num_directions
        xs = self.cross_scan(x)  # (B, K, E, L)
        x_dbl = torch.einsum('bkdl,kcd->bkcl', xs, self.x_proj_weight)
        dts, Bs, Cs = torch.split(
            x_dbl, [self.dt_rank, self.d_state, self.d_state], dim=2)
        dts = torch.einsum('bkrl,kdr->bkdl', dts, self.dt_projs_weight)
        y = self.scan(
            xs.reshape(batch, k * inner, length),
            dts.reshape(batch, k * inner, length),
            -torch.exp(self.A_logs.float()),
            Bs.float(),
            Cs.float(),
            self.Ds.float(),
            delta_bias=self.dt_projs_bias.float().view(-1),
            delta_softplus=True)
        return self.cross_merge(
            y.view(batch, k, inner, length), height, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[-1] != self.d_model:
            raise ValueError(f'SS2D: expected (B, H, W, C={self.d_model}) '
                             f'channels last, got {tuple(x.shape)}')
        batch, height, width, _ = x.shape
        x, z = self.in_proj(x).chunk(2, dim=-1)
        x = self.act(self.conv2d(x.permute(0, 3, 1, 2).contiguous()))
        y = self.forward_core(x)  # (B, E, L)
        y = y.transpose(1, 2).reshape(batch, height, width, -1)
        y = self.out_norm(y.to(z.dtype)) * F.silu(z)
        out = self.out_proj(y)
        if self.dropout is not None:
            out = self.dropout(out)
        return out

    def count_macs(self, inputs: tuple, output: torch.Tensor) -> int:
        """MACs of the per-direction projections written as einsums
        (``x_proj_weight``, ``dt_projs_weight``); the linear layers,
        convolution, LayerNorm and the scan count themselves. Rule in
        ``dunseg.utils.complexity``."""
        batch, height, width, _ = inputs[0].shape
        positions = batch * height * width * self.num_directions
        return positions * (
            self.d_inner * (self.dt_rank + 2 * self.d_state) +
            self.dt_rank * self.d_inner)


class ChannelAttention(nn.Module):
    """RCAN channel attention: ``x · sigmoid(W2 relu(W1 GAP(x)))``.

    Args:
        num_feat (int): Channels.
        squeeze_factor (int): Hidden width = num_feat // squeeze_factor, at
            least 1 (MambaIR's zero width cannot run).
    """

    def __init__(self, num_feat: int, squeeze_factor: int = 16) -> None:
        super().__init__()
        hidden = max(1, num_feat // squeeze_factor)
        self.attention = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(num_feat, hidden, 1),
            nn.ReLU(inplace=True), nn.Conv2d(hidden, num_feat, 1),
            nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.attention(x)


@MODELS.register_module()
class CAB(nn.Module):
    """MambaIR's channel-attention block (NCHW).

    Args:
        num_feat (int): Channels C.
        is_light_sr (bool): Compression ratio 6 instead of ``compress_ratio``
            (MambaIR's lightweight-SR setting).
        compress_ratio (int): Hidden width C // compress_ratio.
        squeeze_factor (int): Squeeze of the channel attention.
    """

    def __init__(self,
                 num_feat: int,
                 is_light_sr: bool = False,
                 compress_ratio: int = 3,
                 squeeze_factor: int = 30) -> None:
        super().__init__()
        if is_light_sr:
            compress_ratio = 6
        hidden = num_feat // compress_ratio
        if hidden < 1:
            raise ValueError(
                f'CAB: num_feat ({num_feat}) // compress_ratio '
                f'({compress_ratio}) is 0; use at least {compress_ratio} '
                'channels')
        self.cab = nn.Sequential(
            nn.Conv2d(num_feat, hidden, 3, 1, 1), nn.GELU(),
            nn.Conv2d(hidden, num_feat, 3, 1, 1),
            ChannelAttention(num_feat, squeeze_factor))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cab(x)


@MODELS.register_module()
class VSSBlock(nn.Module):
    """MambaIR's visual state-space block on NCHW maps (see module doc).

    Args:
        hidden_dim (int): Channels C.
        drop_path (float): Stochastic depth rate of the SS2D branch.
        attn_drop_rate (float): Dropout inside SS2D (after its out_proj).
        d_state (int): State size of SS2D.
        expand (float): SS2D inner width factor.
        d_conv (int): SS2D depthwise convolution size (odd).
        is_light_sr (bool): CAB compression 6 instead of 3.
        scan_backend (str): Selective scan backend, see ``SS2D``.
        ln_1_eps (float): eps of the LayerNorm before SS2D. 1e-5 as
            MambaIR's ``BasicLayer`` builds it (``nn.LayerNorm``); RUN builds
            ``VSSBlock(hidden_dim)`` with the block's own default, 1e-6
            (ChunmingHe/RUN, ``lib/Modules.py``), and its configs set that.

    Shape:
        (B, C, H, W) -> (B, C, H, W), any H and W; channels-last inside.
    """

    def __init__(self,
                 hidden_dim: int,
                 drop_path: float = 0.,
                 attn_drop_rate: float = 0.,
                 d_state: int = 16,
                 expand: float = 2.0,
                 d_conv: int = 3,
                 is_light_sr: bool = False,
                 scan_backend: str = 'auto',
                 ln_1_eps: float = 1e-5) -> None:
        super().__init__()
        self.hidden_dim = hidden_dim
        self.ln_1 = nn.LayerNorm(hidden_dim, eps=ln_1_eps)
        self.self_attention = SS2D(
            d_model=hidden_dim, d_state=d_state, d_conv=d_conv, expand=expand,
            dropout=attn_drop_rate, scan_backend=scan_backend)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else \
            nn.Identity()
        self.skip_scale = nn.Parameter(torch.ones(hidden_dim))
        self.conv_blk = CAB(hidden_dim, is_light_sr)
        self.ln_2 = nn.LayerNorm(hidden_dim)
        self.skip_scale2 = nn.Parameter(torch.ones(hidden_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.hidden_dim:
            raise ValueError(
                f'VSSBlock: expected (B, C={self.hidden_dim}, H, W), got '
                f'{tuple(x.shape)}')
        x = x.permute(0, 2, 3, 1)  # (B, H, W, C)
        x = x * self.skip_scale + self.drop_path(
            self.self_attention(self.ln_1(x)))
        cab = self.conv_blk(self.ln_2(x).permute(0, 3, 1, 2).contiguous())
        x = x * self.skip_scale2 + cab.permute(0, 2, 3, 1)
        return x.permute(0, 3, 1, 2).contiguous()
