"""A convolution with one output channel that is fast on CPU."""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn


class SingleOutputConv2d(nn.Conv2d):
    """``nn.Conv2d(C, 1, k, padding=k // 2)`` computed as a matmul plus shifts.

    Same parameters, state-dict keys and results (up to float rounding) as
    the ``nn.Conv2d`` it subclasses. oneDNN runs a C -> 1 convolution at a
    few percent of its usual speed on CPU (one output channel leaves its
    vector units idle): 3.3 ms for 32 -> 1, 3x3 on a 256x256 image here.
    Instead, every tap's response is computed at once as one
    ``(k*k, C) @ (C, H*W)`` product on the channels-last input, and the k*k
    response maps are summed with the matching shifts: 0.9 ms forward;
    forward + backward 7.2 -> 5.9 ms at batch 1 and 71 -> 61 ms at batch 8
    (docs/benchmarks.md).

    The constructor fixes stride 1, dilation 1, zero "same" padding and one
    group. The fast path is taken for CPU inputs with more than one channel
    in channels-last memory format outside autocast; other inputs (CUDA,
    NCHW, CPU mixed precision) run the ordinary convolution.
    """

    def __init__(self, in_channels: int, kernel_size: int = 3,
                 bias: bool = True) -> None:
        if kernel_size % 2 != 1:
            raise ValueError('SingleOutputConv2d needs an odd kernel size, '
                             f'got {kernel_size}')
        super().__init__(
            in_channels, 1, kernel_size, padding=kernel_size // 2, bias=bias)

    def _fast_path_applies(self, x: torch.Tensor) -> bool:
        # under a CPU autocast the ordinary convolution, which autocast
        # casts consistently in forward and backward
        return (x.dim() == 4 and x.device.type == 'cpu'
                and not torch.is_autocast_enabled('cpu')
                and x.shape[1] > 1
                and x.is_contiguous(memory_format=torch.channels_last))

    def forward(self, x: torch.Tensor,
                channel_scale: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The convolution of ``x``, or of ``x * channel_scale`` if given.

        ``channel_scale`` (N, C, 1, 1), e.g. squeeze-and-excitation weights,
        is folded into per-image taps on the fast path, so the scaled C-channel
        map is never materialised (same result up to float rounding).
        """
        if not self._fast_path_applies(x):
            if channel_scale is not None:
                x = x * channel_scale
            return super().forward(x)
        n, c = x.shape[:2]
        k = self.kernel_size[0]
        taps = self.weight.reshape(c, k * k).t().unsqueeze(0)
        if channel_scale is not None:
            taps = taps * channel_scale.reshape(-1, 1, c)
            if taps.shape[0] not in (1, n):
                raise ValueError(
                    f'channel_scale has {channel_scale.shape[0]} rows for a '
                    f'batch of {n}; give one (N, C, 1, 1) row per image')
        return _ShiftedMatmulConv.apply(x, taps, self.bias, k)


def _tap_offsets(k: int):
    return [divmod(t, k) for t in range(k * k)]


class _ShiftedMatmulConv(torch.autograd.Function):
    """C -> 1 "same" cross-correlation as one matmul and k*k shifted sums.

    ``taps`` (G, k*k, C), G = 1 or one row per image: ``taps[:, t]`` is the
    weight of tap ``t = i*k + j``. Forward: ``R = taps @ pixels`` gives every
    tap's response map, and ``out[y, x] = sum_t R_t[y + i_t - p, x + j_t -
    p]``. Backward reverses the shifts of the output gradient into ``G``
    (k*k maps), then ``grad_pixels = G^T taps`` and ``grad_taps = G
    pixels``: two matmuls instead of k*k scatter-adds.
    """

    @staticmethod
    def forward(ctx, x, taps, bias, k):
        n, c, h, w = x.shape
        p = k // 2
        # (N, H*W, C) view of the channels-last input, no copy
        pixels = x.permute(0, 2, 3, 1).reshape(n, h * w, c)
        responses = torch.matmul(taps, pixels.transpose(1, 2))
        responses = F.pad(responses.view(n, k * k, h, w), (p, p, p, p))
        out = torch.zeros(n, 1, h, w, dtype=x.dtype, device=x.device)
        for t, (i, j) in enumerate(_tap_offsets(k)):
            out += responses[:, t:t + 1, i:i + h, j:j + w]
        if bias is not None:
            out += bias.view(1, 1, 1, 1)
        ctx.save_for_backward(x, taps)
        ctx.k = k
        ctx.has_bias = bias is not None
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, taps = ctx.saved_tensors
        n, c, h, w = x.shape
        k = ctx.k
        p = k // 2
        padded = F.pad(grad_out, (p, p, p, p))
        # G_t[y, x] = grad_out[y - i_t + p, x - j_t + p]
        shifted = torch.cat([
            padded[:, :, 2 * p - i:2 * p - i + h, 2 * p - j:2 * p - j + w]
            for i, j in _tap_offsets(k)
        ], dim=1).reshape(n, k * k, h * w)
        grad_x = grad_taps = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_pixels = torch.matmul(shifted.transpose(1, 2), taps)
            grad_x = grad_pixels.view(n, h, w, c).permute(0, 3, 1, 2)
        if ctx.needs_input_grad[1]:
            pixels = x.permute(0, 2, 3, 1).reshape(n, h * w, c)
            grad_taps = torch.matmul(shifted, pixels)
            if taps.shape[0] == 1:
                grad_taps = grad_taps.sum(0, keepdim=True)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad_out.sum().reshape(1)
        return grad_x, grad_taps, grad_bias, None
