"""Mamba-1 layers: :class:`MambaLayer` and the bidirectional :class:`BiMamba`.

**MambaLayer** is the Mamba block of Gu & Dao ("Mamba: Linear-Time Sequence
Modeling with Selective State Spaces", 2023), as defined by
``mamba_ssm.modules.mamba_simple.Mamba`` in mamba-ssm 2.x
(github.com/state-spaces/mamba). On a sequence ``x`` (B, L, C), with
E = expand · C, R = ceil(C / 16) and N = ``d_state``:

1. ``x, z = split(in_proj(x))`` (E channels each).
2. ``x = silu(CausalDWConv1d(x))``: ``conv1d`` with kernel ``d_conv``,
   padding ``d_conv - 1`` on both sides and the output cut to the first L
   steps, i.e. causal.
3. ``Δ_raw, B, C = split(x_proj(x))`` (R, N, N); ``Δ_raw = dt_proj.weight ·
   Δ_raw`` (its bias is added inside the scan).
4. ``y = selective_scan(x, Δ_raw, A = -exp(A_log), B, C, D, z,
   delta_bias = dt_proj.bias, delta_softplus = True)``: eqs. (1)-(3) of
   :mod:`dunseg.models.layers.selective_scan`.
5. ``out = out_proj(y)``.

Initialisation as mamba-ssm: ``A_log = log(1..N)`` per channel (S4D-real,
``A = -(n + 1)``), ``D = 1``, ``dt_proj.weight`` uniform in ±R^-0.5 and
``dt_proj.bias = softplus⁻¹(Δ₀)`` with Δ₀ log-uniform in [dt_min, dt_max]
(floored at ``dt_init_floor``), so the initial step sizes span that range.
The state dict has exactly mamba-ssm's keys and shapes (``in_proj.weight``,
``conv1d.weight``, ``conv1d.bias``, ``x_proj.weight``, ``dt_proj.weight``,
``dt_proj.bias``, ``A_log``, ``D``, ``out_proj.weight``), so weights trained
with mamba-ssm on a GPU load with ``strict=True``. Not reproduced: the
recurrent single-token decoding (``inference_params`` / ``step``).

**BiMamba** is the bidirectional Mamba of Vision Mamba (Vim; Zhu et al.,
"Vision Mamba: Efficient Visual Representation Learning with Bidirectional
State Space Model", ICML 2024), ``bimamba_type='v2'`` in
``mamba-1p1p1/mamba_ssm/modules/mamba_simple.py`` of github.com/hustvl/Vim:
one ``in_proj`` and ``out_proj``; the forward branch is steps 2-4 above on
the sequence, the backward branch the same steps with its own parameters
(``conv1d_b``, ``x_proj_b``, ``dt_proj_b``, ``A_b_log``, ``D_b``) on the
reversed sequence (x and z reversed); ``out = out_proj((y_fwd +
reverse(y_bwd)) / 2)`` (the halving is Vim's ``if_devide_out=True``, which
its models use; ``divide_out=False`` gives the plain sum). Vim leaves
``dt_proj_b`` at PyTorch's default init; here both branches get Mamba's,
which changes only the starting point, not the parameter names or shapes.
"""
import math
from typing import Union

import torch
import torch.nn.functional as F
from torch import nn

from dunseg.registry import MODELS

from .selective_scan import SelectiveScan

FLATTEN_ORDERS = ('row', 'column')


def s4d_real_A_log(d_state: int, d_inner: int) -> torch.Tensor:
    """S4D-real init: ``A_log[d, n] = log(n + 1)``, i.e. ``A = -(n + 1)``."""
    A = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(d_inner, 1)
    return torch.log(A)


def dt_projection_init(dt_rank: int,
                       d_inner: int,
                       dt_scale: float = 1.0,
                       dt_init: str = 'random',
                       dt_min: float = 0.001,
                       dt_max: float = 0.1,
                       dt_init_floor: float = 1e-4) -> nn.Linear:
    """Mamba's Δ projection: ``nn.Linear(dt_rank, d_inner)`` whose weight is
    ±R^-0.5 · dt_scale (uniform or constant) and whose bias is the inverse
    softplus of Δ₀ ~ log-uniform[dt_min, dt_max] (floored), so that
    ``softplus(bias)`` starts in that range."""
    projection = nn.Linear(dt_rank, d_inner, bias=True)
    std = dt_rank**-0.5 * dt_scale
    if dt_init == 'constant':
        nn.init.constant_(projection.weight, std)
    elif dt_init == 'random':
        nn.init.uniform_(projection.weight, -std, std)
    else:
        raise ValueError(f"dt_init must be 'random' or 'constant', got "
                         f'{dt_init!r}')
    dt = torch.exp(
        torch.rand(d_inner) * (math.log(dt_max) - math.log(dt_min)) +
        math.log(dt_min)).clamp(min=dt_init_floor)
    # softplus⁻¹(dt) = dt + log(1 - exp(-dt)), written with expm1 for small dt
    inverse_softplus = dt + torch.log(-torch.expm1(-dt))
    with torch.no_grad():
        projection.bias.copy_(inverse_softplus)
    projection.bias._no_reinit = True
    return projection


def _mamba_branch(x: torch.Tensor, z: torch.Tensor, conv1d: nn.Conv1d,
                  x_proj: nn.Linear, dt_proj: nn.Linear, A_log: torch.Tensor,
                  D: torch.Tensor, scan: SelectiveScan, dt_rank: int,
                  d_state: int) -> torch.Tensor:
    """Steps 2-4: (B, E, L) ``x`` and gate ``z`` -> gated scan output."""
    length = x.shape[-1]
    x = F.silu(conv1d(x)[..., :length])
    x_dbl = x_proj(x.transpose(1, 2))  # (B, L, R + 2N)
    dt, B, C = torch.split(x_dbl, [dt_rank, d_state, d_state], dim=-1)
    dt = F.linear(dt, dt_proj.weight).transpose(1, 2)  # bias: in the scan
    return scan(
        x,
        dt,
        -torch.exp(A_log.float()),
        B.transpose(1, 2).float(),
        C.transpose(1, 2).float(),
        D.float(),
        z=z,
        delta_bias=dt_proj.bias.float(),
        delta_softplus=True)


@MODELS.register_module()
class MambaLayer(nn.Module):
    """Mamba-1 block with mamba-ssm's parameters (see module docstring).

    Args:
        d_model (int): Channels C.
        d_state (int): State size N per channel.
        d_conv (int): Causal convolution size.
        expand (float): Inner width E = int(expand · C).
        dt_rank (int | str): Δ projection rank; ``'auto'`` = ceil(C / 16).
        dt_min, dt_max, dt_init, dt_scale, dt_init_floor: Δ init, see
            :func:`dt_projection_init`.
        conv_bias (bool): Bias in ``conv1d``.
        bias (bool): Bias in ``in_proj`` and ``out_proj``.
        scan_backend (str): Selective scan backend (``'auto'``,
            ``'mamba_ssm'``, ``'cpu_kernel'``, ``'torch'``).

    Shape:
        (B, L, C) -> (B, L, C).
    """

    def __init__(self,
                 d_model: int,
                 d_state: int = 16,
                 d_conv: int = 4,
                 expand: float = 2,
                 dt_rank: Union[int, str] = 'auto',
                 dt_min: float = 0.001,
                 dt_max: float = 0.1,
                 dt_init: str = 'random',
                 dt_scale: float = 1.0,
                 dt_init_floor: float = 1e-4,
                 conv_bias: bool = True,
                 bias: bool = False,
                 scan_backend: str = 'auto') -> None:
        super().__init__()
        self.d_model = d_model
        self.d_state = d_state
        self.d_conv = d_conv
        self.expand = expand
        self.d_inner = int(expand * d_model)
        self.dt_rank = (math.ceil(d_model / 16)
                        if dt_rank == 'auto' else int(dt_rank))
        self._dt_init = (dt_scale, dt_init, dt_min, dt_max, dt_init_floor)
        self.in_proj = nn.Linear(d_model, self.d_inner * 2, bias=bias)
        self.conv1d, self.x_proj, self.dt_proj, self.A_log, self.D = \
            self._build_branch(conv_bias)
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=bias)
        self.scan = SelectiveScan(scan_backend)

    def _build_branch(self, conv_bias: bool):
        """conv1d, x_proj, dt_proj, A_log, D of one scan direction."""
        inner = self.d_inner
        conv1d = nn.Conv1d(inner, inner, self.d_conv, groups=inner,
                           padding=self.d_conv - 1, bias=conv_bias)
        x_proj = nn.Linear(inner, self.dt_rank + 2 * self.d_state, bias=False)
        dt_proj = dt_projection_init(self.dt_rank, inner, *self._dt_init)
        A_log = nn.Parameter(s4d_real_A_log(self.d_state, inner))
        A_log._no_weight_decay = True
        D = nn.Parameter(torch.ones(inner))
        D._no_weight_decay = True
        return conv1d, x_proj, dt_proj, A_log, D

    def _check_sequence(self, x: torch.Tensor) -> None:
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ValueError(
                f'{type(self).__name__}: expected (B, L, C={self.d_model}), '
                f'got {tuple(x.shape)}')

    def _in_projection(self, x: torch.Tensor):
        """(B, L, C) -> x, z as (B, E, L)."""
        xz = self.in_proj(x).transpose(1, 2)
        return xz.chunk(2, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_sequence(x)
        x, z = self._in_projection(x)
        y = _mamba_branch(x, z, self.conv1d, self.x_proj, self.dt_proj,
                          self.A_log, self.D, self.scan, self.dt_rank,
                          self.d_state)
        return self.out_proj(y.transpose(1, 2))

    def count_macs(self, inputs: tuple, output: torch.Tensor) -> int:
        """MACs of the Δ projection applied as ``F.linear`` (its weight only;
        the bias enters the scan). Everything else counts itself, see
        ``dunseg.utils.complexity``."""
        tokens = inputs[0].numel() // self.d_model  # (B, L, C) or NCHW
        branches = 2 if isinstance(self, BiMamba) else 1
        return branches * tokens * self.d_inner * self.dt_rank


@MODELS.register_module()
class BiMamba(MambaLayer):
    """Bidirectional Mamba of Vision Mamba (bimamba v2), see module doc.

    Args:
        d_model (int): Channels C.
        flatten_order (str): How an NCHW map becomes a sequence:
            ``'row'`` (row by row, ``x.flatten(2)``, as Vim's patch tokens)
            or ``'column'`` (column by column).
        divide_out (bool): Average the two directions (Vim's
            ``if_devide_out=True``) instead of summing them.
        **kwargs: The arguments of :class:`MambaLayer` (``d_state``,
            ``d_conv``, ``expand``, Δ init, ``scan_backend`` ...).

    Shape:
        (B, L, C) -> (B, L, C), or an NCHW map (B, C, H, W) -> (B, C, H, W)
        (flattened in ``flatten_order``, scanned, folded back).
    """

    def __init__(self,
                 d_model: int,
                 flatten_order: str = 'row',
                 divide_out: bool = True,
                 conv_bias: bool = True,
                 **kwargs) -> None:
        super().__init__(d_model, conv_bias=conv_bias, **kwargs)
        if flatten_order not in FLATTEN_ORDERS:
            raise ValueError(f'BiMamba: flatten_order must be one of '
                             f'{FLATTEN_ORDERS}, got {flatten_order!r}')
        self.flatten_order = flatten_order
        self.divide_out = divide_out
        self.conv1d_b, self.x_proj_b, self.dt_proj_b, self.A_b_log, \
            self.D_b = self._build_branch(conv_bias)

    def flatten(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, L, C) in ``flatten_order``."""
        if self.flatten_order == 'column':
            x = x.transpose(2, 3)
        return x.flatten(2).transpose(1, 2)

    def unflatten(self, x: torch.Tensor, height: int,
                  width: int) -> torch.Tensor:
        """(B, L, C) -> (B, C, H, W), inverse of :meth:`flatten`."""
        batch, _, channels = x.shape
        if self.flatten_order == 'column':
            return x.transpose(1, 2).reshape(batch, channels, width,
                                             height).transpose(2, 3)
        return x.transpose(1, 2).reshape(batch, channels, height, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:
            if x.shape[1] != self.d_model:
                raise ValueError(
                    f'BiMamba: expected (B, C={self.d_model}, H, W), got '
                    f'{tuple(x.shape)}')
            height, width = x.shape[2:]
            out = self.forward(self.flatten(x))
            return self.unflatten(out, height, width).contiguous()
        self._check_sequence(x)
        x, z = self._in_projection(x)
        y_forward = _mamba_branch(x, z, self.conv1d, self.x_proj,
                                  self.dt_proj, self.A_log, self.D, self.scan,
                                  self.dt_rank, self.d_state)
        y_backward = _mamba_branch(x.flip(-1), z.flip(-1), self.conv1d_b,
                                   self.x_proj_b, self.dt_proj_b,
                                   self.A_b_log, self.D_b, self.scan,
                                   self.dt_rank, self.d_state)
        y = y_forward + y_backward.flip(-1)
        if self.divide_out:
            y = y / 2
        return self.out_proj(y.transpose(1, 2))
