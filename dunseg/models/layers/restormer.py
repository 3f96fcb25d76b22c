"""Restormer building blocks (Zamir et al., CVPR 2022) for unfolding nets.

Restormer is a U-shaped transformer whose attention runs across channels
("transposed" attention) rather than across pixels, so its cost grows
linearly with the image size. Its blocks are reused here by VLU-Net (the
proximal mapping module and the D-GDM operators), and are meant for NUN and
VL-DUN's low-frequency branch and AMGDM too.

- :class:`LayerNorm2d`: layer normalisation over the channels of every pixel
  of an ``(N, C, H, W)`` map (``'WithBias'``: ``(x - μ) / sqrt(σ² + 1e-5) · w
  + b``; ``'BiasFree'``: ``x / sqrt(σ² + 1e-5) · w``, σ² still measured about
  the mean), biased variance, as in the official code.
- :class:`DepthwiseConv2d`: the "Dconv", a 3x3 convolution per channel
  (``nn.Conv2d`` with ``groups = C``, run in channel chunks on CPU when the
  map outgrows the cache).
- :class:`MDTA`: multi-Dconv head transposed attention. ``q, k, v`` =
  split(DWConv3x3(Conv1x1(x))), reshaped per head to ``(C/h, HW)``; ``q`` and
  ``k`` L2-normalised over the HW tokens; ``A = softmax(q kᵀ · τ)`` with a
  learnable temperature τ per head; ``out = Conv1x1(A v)``.
- :class:`CrossMDTA`: the same with ``k`` computed from a second map (a
  prompt / prior of ``prompt_channels`` channels, same H and W): ``q, v`` from
  ``x``, ``k = DWConv3x3(Conv1x1(prompt))``. This is VLU-Net's Φ̃ in the
  D-GDM (official name ``CrossAttention``).
- :class:`GDFN`: gated-Dconv feed-forward network: ``x1, x2 =
  split(DWConv3x3(Conv1x1(x)))`` with hidden width ``int(C · γ)``, then
  ``Conv1x1(gelu(x1) · x2)``.
- :class:`TransformerBlock`: ``x += MDTA(LN(x)); x += GDFN(LN(x))``.
- :class:`RestormerBlocks` (registered): a stack of transformer blocks in
  ``blocks``; the default proximal module of VLU-Net.
- :class:`Downsample` / :class:`Upsample`: Conv3x3 ``C -> C/2`` +
  PixelUnshuffle(2) (gives ``2C`` at half resolution) / Conv3x3 ``C -> 2C`` +
  PixelShuffle(2) (gives ``C/2`` at twice the resolution).
- :class:`OverlapPatchEmbed`: Conv3x3 ``in -> embed_dim``.

Attribute names equal the official Restormer / VLU-Net ones (``attn.qkv``,
``attn.qkv_dwconv``, ``attn.temperature``, ``ffn.project_in``,
``norm1.body.weight``, ``body.0.weight`` ...) so official state dicts load
without renaming. All convolutions are bias-free unless ``bias=True``.
The layer norms are plain modules (not ``nn.LayerNorm``), so MAC counters
that follow thop do not count them, as thop does not for the official code;
the attention matrix products are not counted either.
"""
import torch
import torch.nn.functional as F
from torch import nn

from dunseg.registry import MODELS

LAYER_NORM_TYPES = ('WithBias', 'BiasFree')


class WithBiasLayerNorm(nn.Module):
    """``(x - μ_c) / sqrt(σ²_c + eps) · weight + bias`` over dim 1."""

    def __init__(self, num_channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_channels))
        self.bias = nn.Parameter(torch.zeros(num_channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Statistics over dim 1 keep the result in contiguous NCHW layout
        # (F.layer_norm on a channels-last view would hand channels-last
        # tensors to the following convolutions and force copies in the
        # attention reshapes). Two passes of mean() rather than
        # torch.var_mean, which reduces over a strided dim 8x slower on CPU
        # (measured, 1 thread: 0.93 against 7.3 ms at 48 x 128 x 128).
        centred = x - x.mean(dim=1, keepdim=True)
        var = centred.square().mean(dim=1, keepdim=True)
        return torch.addcmul(self.bias.view(1, -1, 1, 1),
                             centred * torch.rsqrt(var + self.eps),
                             self.weight.view(1, -1, 1, 1))


class BiasFreeLayerNorm(nn.Module):
    """``x / sqrt(σ²_c + eps) · weight`` over dim 1 (x is not centred)."""

    def __init__(self, num_channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # two passes of mean(), not torch.var: see WithBiasLayerNorm
        var = (x - x.mean(dim=1, keepdim=True)).square().mean(
            dim=1, keepdim=True)
        return x * (torch.rsqrt(var + self.eps) *
                    self.weight.view(1, -1, 1, 1))


class LayerNorm2d(nn.Module):
    """Restormer's layer norm over the channels of each pixel.

    Args:
        num_channels (int): C.
        layer_norm_type (str): ``'WithBias'`` (weight and bias, centred) or
            ``'BiasFree'`` (weight only, not centred).
    """

    def __init__(self, num_channels: int,
                 layer_norm_type: str = 'WithBias') -> None:
        super().__init__()
        if layer_norm_type == 'WithBias':
            self.body = WithBiasLayerNorm(num_channels)
        elif layer_norm_type == 'BiasFree':
            self.body = BiasFreeLayerNorm(num_channels)
        else:
            raise ValueError(f'layer_norm_type must be one of '
                             f'{LAYER_NORM_TYPES}, got {layer_norm_type!r}')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def _check_heads(dim: int, num_heads: int, name: str) -> None:
    if num_heads < 1 or dim % num_heads:
        raise ValueError(f'{name}: channels ({dim}) must be divisible by '
                         f'num_heads ({num_heads})')


def transposed_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                         num_heads: int,
                         temperature: torch.Tensor) -> torch.Tensor:
    """Channel attention of Restormer on ``(N, C, H, W)`` maps.

    ``k`` may have batch size 1 (a key shared by the batch); it is
    broadcast. Returns ``(N, C, H, W)``.
    """
    n, c, h, w = q.shape
    d = c // num_heads
    q = q.reshape(n, num_heads, d, h * w)
    k = k.reshape(k.shape[0], num_heads, d, h * w)
    v = v.reshape(n, num_heads, d, h * w)
    # L2-normalising q and k over the tokens (F.normalize, eps 1e-12) is
    # applied to the small (d x d) product instead of the (d x HW) maps:
    # q̂ k̂ᵀ = q kᵀ / (|q| |k|ᵀ), same values, two fewer full-size passes.
    q_norm = torch.linalg.vector_norm(q, dim=-1, keepdim=True)
    k_norm = torch.linalg.vector_norm(k, dim=-1, keepdim=True)
    scale = temperature / (q_norm.clamp_min(1e-12) *
                           k_norm.clamp_min(1e-12).transpose(-2, -1))
    attn = (torch.matmul(q, k.transpose(-2, -1)) * scale).softmax(dim=-1)
    return torch.matmul(attn, v).reshape(n, c, h, w)


class DepthwiseConv2d(nn.Conv2d):
    """The "Dconv" of MDTA and GDFN: a k x k convolution per channel.

    Same parameters and state dict as ``nn.Conv2d(C, C, k, padding=k // 2,
    groups=C)``. On CPU, a map larger than ``cpu_chunk_bytes`` is convolved
    in channel chunks and concatenated: oneDNN's NCHW depthwise kernel slows
    down several-fold once its input and output no longer fit the last-level
    cache (510 x 128 x 128 floats, 33 MB each way, in VLU-Net's level-1 GDFN:
    28 % of a forward), and channels are independent, so the result is the
    same. CUDA tensors take the single call.

    Args:
        channels (int): C.
        kernel_size (int): k (odd).
        bias (bool): Bias per channel.
    """
    cpu_chunk_bytes = 8 * 2**20

    def __init__(self, channels: int, kernel_size: int = 3,
                 bias: bool = False) -> None:
        super().__init__(channels, channels, kernel_size,
                         padding=kernel_size // 2, groups=channels, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        chunk = max(1, self.cpu_chunk_bytes // (n * h * w * x.element_size()))
        if x.device.type != 'cpu' or chunk >= c:
            return super().forward(x)
        num_chunks = -(-c // chunk)
        biases = (self.bias.split(chunk) if self.bias is not None else
                  (None, ) * num_chunks)
        return torch.cat([
            F.conv2d(x_part, weight, bias, self.stride, self.padding,
                     self.dilation, weight.shape[0])
            for x_part, weight, bias in zip(
                x.split(chunk, dim=1), self.weight.split(chunk), biases)
        ], dim=1)


class MDTA(nn.Module):
    """Multi-Dconv head transposed self-attention (official ``Attention``).

    Args:
        dim (int): Channels C (divisible by ``num_heads``).
        num_heads (int): Heads; each owns C / heads channels and one learnable
            temperature (``temperature``: (heads, 1, 1), init 1).
        bias (bool): Bias in the convolutions.
    """

    def __init__(self, dim: int, num_heads: int, bias: bool = False) -> None:
        super().__init__()
        _check_heads(dim, num_heads, 'MDTA')
        self.num_heads = num_heads
        self.temperature = nn.Parameter(torch.ones(num_heads, 1, 1))
        self.qkv = nn.Conv2d(dim, dim * 3, 1, bias=bias)
        self.qkv_dwconv = DepthwiseConv2d(dim * 3, 3, bias=bias)
        self.project_out = nn.Conv2d(dim, dim, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv_dwconv(self.qkv(x)).chunk(3, dim=1)
        out = transposed_attention(q, k, v, self.num_heads, self.temperature)
        return self.project_out(out)


class CrossMDTA(nn.Module):
    """Transposed attention with keys from a prompt map (``CrossAttention``).

    ``q, v = split(DWConv3x3(Conv1x1(x: C -> 2C)))`` and
    ``k = DWConv3x3(Conv1x1(prompt: P -> C))``; then as :class:`MDTA`.
    The prompt must have the spatial size of ``x``; its batch may be 1
    (shared by all samples) or N.

    Args:
        dim (int): Channels C of ``x``.
        num_heads (int): Heads.
        prompt_channels (int): Channels P of the prompt map.
        bias (bool): Bias in the convolutions.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int,
                 prompt_channels: int,
                 bias: bool = False) -> None:
        super().__init__()
        _check_heads(dim, num_heads, 'CrossMDTA')
        if prompt_channels < 1:
            raise ValueError(
                f'CrossMDTA: prompt_channels must be >= 1, got '
                f'{prompt_channels}')
        self.num_heads = num_heads
        self.temperature = nn.Parameter(torch.ones(num_heads, 1, 1))
        self.qv = nn.Conv2d(dim, dim * 2, 1, bias=bias)
        self.qv_dwconv = DepthwiseConv2d(dim * 2, 3, bias=bias)
        self.k = nn.Conv2d(prompt_channels, dim, 1, bias=bias)
        self.k_dwconv = DepthwiseConv2d(dim, 3, bias=bias)
        self.project_out = nn.Conv2d(dim, dim, 1, bias=bias)

    def forward(self, x: torch.Tensor, prompt: torch.Tensor) -> torch.Tensor:
        if prompt.shape[-2:] != x.shape[-2:] or prompt.shape[0] not in (
                1, x.shape[0]):
            raise ValueError(
                f'CrossMDTA: prompt of shape {tuple(prompt.shape)} does not '
                f'fit features of shape {tuple(x.shape)}; resize the prompt '
                'to the feature size (batch 1 or N)')
        q, v = self.qv_dwconv(self.qv(x)).chunk(2, dim=1)
        k = self.k_dwconv(self.k(prompt))
        out = transposed_attention(q, k, v, self.num_heads, self.temperature)
        return self.project_out(out)


class GDFN(nn.Module):
    """Gated-Dconv feed-forward network (official ``FeedForward``).

    Args:
        dim (int): Channels C.
        ffn_expansion_factor (float): γ; hidden width ``int(C · γ)``.
        bias (bool): Bias in the convolutions.
    """

    def __init__(self,
                 dim: int,
                 ffn_expansion_factor: float = 2.66,
                 bias: bool = False) -> None:
        super().__init__()
        hidden = int(dim * ffn_expansion_factor)
        self.project_in = nn.Conv2d(dim, hidden * 2, 1, bias=bias)
        self.dwconv = DepthwiseConv2d(hidden * 2, 3, bias=bias)
        self.project_out = nn.Conv2d(hidden, dim, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = self.dwconv(self.project_in(x)).chunk(2, dim=1)
        return self.project_out(F.gelu(x1) * x2)


class TransformerBlock(nn.Module):
    """Restormer block: ``x + MDTA(LN(x))``, then ``x + GDFN(LN(x))``."""

    def __init__(self,
                 dim: int,
                 num_heads: int,
                 ffn_expansion_factor: float = 2.66,
                 bias: bool = False,
                 layer_norm_type: str = 'WithBias') -> None:
        super().__init__()
        self.norm1 = LayerNorm2d(dim, layer_norm_type)
        self.attn = MDTA(dim, num_heads, bias)
        self.norm2 = LayerNorm2d(dim, layer_norm_type)
        self.ffn = GDFN(dim, ffn_expansion_factor, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


@MODELS.register_module()
class RestormerBlocks(nn.Module):
    """``num_blocks`` :class:`TransformerBlock` s in ``blocks`` (a sequence).

    Registered so that a config can name it as a proximal module, e.g.
    ``proximal_cfg=dict(type='RestormerBlocks', num_blocks=2, num_heads=1)``
    in :class:`~dunseg.models.unfolding.VLUNet` (which injects ``dim``).
    """

    def __init__(self,
                 dim: int,
                 num_blocks: int = 1,
                 num_heads: int = 1,
                 ffn_expansion_factor: float = 2.66,
                 bias: bool = False,
                 layer_norm_type: str = 'WithBias') -> None:
        super().__init__()
        if num_blocks < 1:
            raise ValueError(f'RestormerBlocks: num_blocks must be >= 1, got '
                             f'{num_blocks}')
        self.blocks = nn.Sequential(*[
            TransformerBlock(dim, num_heads, ffn_expansion_factor, bias,
                             layer_norm_type) for _ in range(num_blocks)
        ])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


class Downsample(nn.Module):
    """Conv3x3 ``C -> C/2`` + PixelUnshuffle(2): ``(C, H, W) -> (2C, H/2,
    W/2)``."""

    def __init__(self, num_channels: int, bias: bool = False) -> None:
        super().__init__()
        if num_channels % 2:
            raise ValueError(f'Downsample: channels must be even, got '
                             f'{num_channels}')
        self.body = nn.Sequential(
            nn.Conv2d(num_channels, num_channels // 2, 3, padding=1,
                      bias=bias), nn.PixelUnshuffle(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class Upsample(nn.Module):
    """Conv3x3 ``C -> 2C`` + PixelShuffle(2): ``(C, H, W) -> (C/2, 2H,
    2W)``."""

    def __init__(self, num_channels: int, bias: bool = False) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(num_channels, num_channels * 2, 3, padding=1,
                      bias=bias), nn.PixelShuffle(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class OverlapPatchEmbed(nn.Module):
    """Conv3x3 ``in_channels -> embed_dim`` (``proj``)."""

    def __init__(self,
                 in_channels: int = 3,
                 embed_dim: int = 48,
                 bias: bool = False) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, embed_dim, 3, padding=1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


__all__ = [
    'LayerNorm2d', 'WithBiasLayerNorm', 'BiasFreeLayerNorm', 'MDTA',
    'CrossMDTA', 'GDFN', 'TransformerBlock', 'RestormerBlocks', 'Downsample',
    'Upsample', 'OverlapPatchEmbed', 'transposed_attention'
]
