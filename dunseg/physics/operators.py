"""Linear degradation operators with exact adjoints.

Every operator is a :class:`torch.nn.Module` acting on ``(N, C, H, W)``
batches (any float dtype, CPU or CUDA; buffers follow ``.to()``):

- ``A(x)`` (also ``op(x)``): the forward model ``y = A x``;
- ``A_adjoint(y)``: the adjoint ``Aᵀ y`` (``Aᴴ y`` for complex data), exact up
  to floating-point rounding, i.e. ``<A x, y> = <x, Aᵀ y>``;
- ``AtA(x)``: the normal operator ``Aᵀ A x`` used by gradient steps
  ``x - r·Aᵀ(A x - y)`` of unfolding networks.

Boundary handling is explicit because it decides the adjoint:
``padding='circular'`` (periodic images, computed with the FFT) or
``'zero'`` (zero outside the image; the adjoint of zero-padding is
cropping). Reflective padding is not offered: its adjoint is not a
padding, and the unfolding code relies on exact adjoints.
"""
import math
from typing import Dict, Optional, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .kernels import as_kernel_array, resize_matrix

PADDINGS = ('circular', 'zero')


def _check_batch(x: Tensor, name: str) -> None:
    if not isinstance(x, Tensor) or x.ndim != 4:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f'{name} expects an (N, C, H, W) tensor, got '
                         f'{shape}')


class LinearOperator(nn.Module):
    """Base class: ``forward`` is ``A``; subclasses define ``A_adjoint``."""

    def A(self, x: Tensor) -> Tensor:  # noqa: N802 (maths notation)
        raise NotImplementedError

    def A_adjoint(self, y: Tensor) -> Tensor:  # noqa: N802
        raise NotImplementedError

    def AtA(self, x: Tensor) -> Tensor:  # noqa: N802
        """Normal operator ``Aᵀ A x``."""
        return self.A_adjoint(self.A(x))

    def forward(self, x: Tensor) -> Tensor:
        return self.A(x)


class Blur(LinearOperator):
    """Convolution with a fixed point-spread function: ``y = k ⊛ x``.

    True convolution (the kernel is flipped relative to
    :func:`torch.nn.functional.conv2d`) with the kernel origin at pixel
    ``(kh // 2, kw // 2)``, so odd symmetric kernels do not shift the
    image; the output has the input's size.

    - ``padding='circular'``: periodic boundary, ``A = Fᴴ diag(K) F`` via the
      real FFT; ``Aᵀ = Fᴴ diag(conj K) F``. Needs ``kh <= H`` and
      ``kw <= W``.
    - ``padding='zero'``: zero boundary, ``A = conv ∘ pad₀``;
      ``Aᵀ = crop ∘ conv_transpose`` (``crop`` is the adjoint of ``pad₀``).

    Args:
        kernel (array-like | Tensor): ``(kh, kw)`` (shared by all channels)
            or ``(C, kh, kw)`` (one per channel).
        padding (str): ``'circular'`` or ``'zero'``.
    """

    def __init__(self,
                 kernel: Union[np.ndarray, Tensor],
                 padding: str = 'circular') -> None:
        super().__init__()
        if padding not in PADDINGS:
            raise ValueError(f'Blur: padding must be one of {PADDINGS}, got '
                             f'{padding!r}')
        if isinstance(kernel, Tensor):
            kernel = kernel.detach().cpu().double().numpy()
        k = torch.from_numpy(as_kernel_array(kernel).copy())
        if k.ndim == 2:
            k = k[None]
        self.padding = padding
        self.register_buffer('kernel', k, persistent=False)  # float64

    def _weight(self, x: Tensor) -> Tensor:
        k = self.kernel.to(device=x.device,
                           dtype=x.real.dtype if x.is_complex() else x.dtype)
        c = x.shape[1]
        if k.shape[0] == 1:
            k = k.expand(c, -1, -1)
        elif k.shape[0] != c:
            raise ValueError(
                f'Blur: the kernel has {k.shape[0]} channels but the input '
                f'{tuple(x.shape)} has {c}; pass a (kh, kw) kernel to share '
                'it across channels')
        return k

    def _otf(self, x: Tensor) -> Tensor:
        k = self._weight(x)
        kh, kw = k.shape[-2:]
        h, w = x.shape[-2:]
        if kh > h or kw > w:
            raise ValueError(
                f'Blur: circular padding needs the kernel ({kh}x{kw}) to fit '
                f'in the image ({h}x{w}); use padding=\'zero\' or a smaller '
                'kernel')
        psf = k.new_zeros((k.shape[0], h, w))
        psf[:, :kh, :kw] = k
        psf = torch.roll(psf, shifts=(-(kh // 2), -(kw // 2)), dims=(-2, -1))
        return torch.fft.rfft2(psf)[None]

    def _conv(self, x: Tensor, transpose: bool) -> Tensor:
        k = self._weight(x)
        c = k.shape[0]
        kh, kw = k.shape[-2:]
        weight = torch.flip(k, dims=(-2, -1))[:, None]
        # pad (left, right, top, bottom) such that output[i] = sum_u
        # k[u] x[i - u + centre]
        left, right = kw - 1 - kw // 2, kw // 2
        top, bottom = kh - 1 - kh // 2, kh // 2
        if not transpose:
            return F.conv2d(F.pad(x, (left, right, top, bottom)),
                            weight,
                            groups=c)
        full = F.conv_transpose2d(x, weight, groups=c)
        h, w = x.shape[-2:]
        return full[..., top:top + h, left:left + w]

    def _blur(self, x: Tensor, adjoint: bool) -> Tensor:
        _check_batch(x, 'Blur')
        if x.is_complex():
            return torch.complex(self._blur(x.real, adjoint),
                                 self._blur(x.imag, adjoint))
        if self.padding == 'zero':
            return self._conv(x, transpose=adjoint)
        otf = self._otf(x)
        if adjoint:
            otf = otf.conj()
        return torch.fft.irfft2(torch.fft.rfft2(x) * otf,
                                s=x.shape[-2:]).to(x.dtype)

    def A(self, x: Tensor) -> Tensor:  # noqa: N802
        return self._blur(x, adjoint=False)

    def A_adjoint(self, y: Tensor) -> Tensor:  # noqa: N802
        return self._blur(y, adjoint=True)

    def extra_repr(self) -> str:
        return (f'kernel={tuple(self.kernel.shape)}, '
                f'padding={self.padding!r}')


class Downsample(LinearOperator):
    """Integer-factor downsampling ``y = S H x`` with an exact adjoint.

    Args:
        factor (int): Downscaling factor ``s`` (H and W must be multiples
            of it; the error says so otherwise).
        filter (str): ``'none'`` — blur-free decimation
            ``y[i, j] = x[s·i + o, s·j + o]`` (``o = offset``), adjoint =
            zero-insertion; ``'box'`` — ``s x s`` block averages (adjoint:
            each value spread as ``1/s²`` over its block); ``'bicubic'`` —
            MATLAB-style anti-aliased bicubic ``imresize(x, 1/s)`` written
            as separable matrices ``y = M_H x M_Wᵀ`` (adjoint
            ``M_Hᵀ y M_W``).
        offset (int): Sampling phase for ``filter='none'`` (``0 <= offset
            < factor``).
        boundary (str): Boundary of the bicubic matrices: ``'symmetric'``
            (as ``imresize``) or ``'circular'``.
    """

    FILTERS = ('none', 'box', 'bicubic')

    def __init__(self,
                 factor: int,
                 filter: str = 'none',
                 offset: int = 0,
                 boundary: str = 'symmetric') -> None:
        super().__init__()
        if int(factor) != factor or factor < 1:
            raise ValueError(
                f'Downsample: factor must be a positive int, got {factor!r}')
        if filter not in self.FILTERS:
            raise ValueError(f'Downsample: filter must be one of '
                             f'{self.FILTERS}, got {filter!r}')
        if not 0 <= offset < factor:
            raise ValueError(f'Downsample: offset must be in [0, {factor}), '
                             f'got {offset}')
        self.factor = int(factor)
        self.filter = filter
        self.offset = int(offset)
        self.boundary = boundary
        self._matrices: Dict[tuple, Tuple[Tensor, Tensor]] = {}

    def _check_size(self, x: Tensor) -> None:
        _check_batch(x, 'Downsample')
        h, w = x.shape[-2:]
        if h % self.factor or w % self.factor:
            raise ValueError(
                f'Downsample: input size {h}x{w} is not a multiple of the '
                f'factor {self.factor}; crop it (e.g. CenterCropToMultiple '
                f'with base={self.factor}) first')

    def _mats(self, h: int, w: int, ref: Tensor) -> Tuple[Tensor, Tensor]:
        dtype = ref.real.dtype if ref.is_complex() else ref.dtype
        key = (h, w, dtype, ref.device)
        if key not in self._matrices:
            mh = resize_matrix(h, self.factor, self.filter, self.boundary)
            mw = resize_matrix(w, self.factor, self.filter, self.boundary)
            self._matrices[key] = (torch.as_tensor(mh,
                                                   dtype=dtype,
                                                   device=ref.device),
                                   torch.as_tensor(mw,
                                                   dtype=dtype,
                                                   device=ref.device))
        return self._matrices[key]

    def A(self, x: Tensor) -> Tensor:  # noqa: N802
        self._check_size(x)
        s, o = self.factor, self.offset
        if self.filter == 'none':
            return x[..., o::s, o::s]
        if self.filter == 'box':
            if x.is_complex():
                return torch.complex(self.A(x.real), self.A(x.imag))
            return F.avg_pool2d(x, s)
        mh, mw = self._mats(x.shape[-2], x.shape[-1], x)
        return mh.to(x.dtype) @ x @ mw.to(x.dtype).T

    def A_adjoint(self, y: Tensor) -> Tensor:  # noqa: N802
        _check_batch(y, 'Downsample.A_adjoint')
        s, o = self.factor, self.offset
        h, w = y.shape[-2] * s, y.shape[-1] * s
        if self.filter == 'none':
            x = y.new_zeros(y.shape[:-2] + (h, w))
            x[..., o::s, o::s] = y
            return x
        if self.filter == 'box':
            return y.repeat_interleave(s, -2).repeat_interleave(s,
                                                                -1) / (s * s)
        mh, mw = self._mats(h, w, y)
        return mh.to(y.dtype).T @ y @ mw.to(y.dtype)

    def extra_repr(self) -> str:
        return f'factor={self.factor}, filter={self.filter!r}'


class KSpaceMask(LinearOperator):
    """Undersampled Fourier sampling (MRI / CT-like): ``y = M ⊙ F x``.

    ``F`` is the orthonormal 2-D DFT over (H, W) (``norm='ortho'``, so
    ``Fᴴ = F⁻¹``) and ``M`` a real sampling mask. ``y`` is complex.

    - complex input: ``Aᴴ y = Fᴴ (M ⊙ y)`` (complex, the zero-filled
      reconstruction for a binary mask);
    - real input (``real_input=True``): ``A`` maps a real image to complex
      k-space; with the real inner product ``Re<a, b>`` its adjoint is
      ``Re(Fᴴ (M ⊙ y))``, returned as a real tensor.

    Args:
        mask (array-like | Tensor): ``(H, W)`` or broadcastable to
            ``(N, C, H, W)`` (e.g. ``(N, 1, H, W)`` per sample), values
            typically in {0, 1}.
        centered (bool): Whether the mask is given with the DC frequency at
            the centre (as the generators return it, and as k-space is
            usually displayed); it is ``ifftshift``-ed internally.
            ``False`` means the mask already uses FFT order.
        real_input (bool): Whether the images are real (see above).
    """

    def __init__(self,
                 mask: Union[np.ndarray, Tensor],
                 centered: bool = True,
                 real_input: bool = True) -> None:
        super().__init__()
        m = torch.as_tensor(
            np.asarray(mask) if not isinstance(mask, Tensor) else mask.detach(
            ).cpu()).float()
        if m.ndim < 2 or torch.is_complex(m):
            raise ValueError('KSpaceMask: mask must be a real (H, W) or '
                             f'(..., H, W) array, got {tuple(m.shape)}')
        if centered:
            m = torch.fft.ifftshift(m, dim=(-2, -1))
        self.centered = centered
        self.real_input = real_input
        self.register_buffer('mask', m, persistent=False)

    @property
    def acceleration(self) -> float:
        """``H·W / Σ M`` (the undersampling factor)."""
        return float(self.mask.numel() / max(self.mask.sum().item(), 1e-12))

    def _m(self, x: Tensor) -> Tensor:
        dtype = x.real.dtype if x.is_complex() else x.dtype
        m = self.mask.to(device=x.device, dtype=dtype)
        if m.shape[-2:] != x.shape[-2:]:
            raise ValueError(
                f'KSpaceMask: mask is {tuple(m.shape[-2:])} but the input is '
                f'{tuple(x.shape[-2:])} (H, W); generate the mask for the '
                'image size')
        return m

    def A(self, x: Tensor) -> Tensor:  # noqa: N802
        _check_batch(x, 'KSpaceMask')
        return self._m(x) * torch.fft.fft2(x, norm='ortho')

    def A_adjoint(self, y: Tensor) -> Tensor:  # noqa: N802
        _check_batch(y, 'KSpaceMask.A_adjoint')
        x = torch.fft.ifft2(self._m(y) * y, norm='ortho')
        return x.real if self.real_input else x

    def extra_repr(self) -> str:
        return (f'mask={tuple(self.mask.shape)}, acceleration='
                f'{self.acceleration:.2f}, real_input={self.real_input}')


def _rng(seed: Optional[int], rng: Optional[np.random.Generator]):
    if rng is not None and seed is not None:
        raise ValueError('pass either seed or rng, not both')
    return rng if rng is not None else np.random.default_rng(seed)


def cartesian_mask(shape: Tuple[int, int],
                   acceleration: Optional[float] = 4.0,
                   center_fraction: float = 0.08,
                   num_lines: Optional[int] = None,
                   pattern: str = 'random',
                   seed: Optional[int] = None,
                   rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """Cartesian (MRI) undersampling mask, DC at the centre.

    Whole k-space columns (phase-encoding lines, fully sampled along the
    read-out direction H) are kept: the ``round(W·center_fraction)``
    central columns plus the others chosen ``'random'``-ly (uniform,
    without replacement) or ``'equispaced'`` (regular spacing with a
    random phase), ``num_lines = round(W / acceleration)`` columns in all.

    Args:
        shape (tuple[int, int]): (H, W).
        acceleration (float, optional): Undersampling factor (ignored if
            ``num_lines`` is given).
        center_fraction (float): Fraction of fully sampled central columns.
        num_lines (int, optional): Exact number of sampled columns.
        pattern (str): ``'random'`` or ``'equispaced'``.
        seed (int, optional) / rng (np.random.Generator, optional): Source
            of randomness; the same seed gives the same mask.

    Returns:
        np.ndarray: float32 (H, W) mask in {0, 1}.
    """
    h, w = (int(s) for s in shape)
    rng = _rng(seed, rng)
    if num_lines is None:
        if not acceleration or acceleration < 1:
            raise ValueError('cartesian_mask: acceleration must be >= 1, got '
                             f'{acceleration!r}')
        num_lines = int(round(w / acceleration))
    num_lines = int(np.clip(num_lines, 1, w))
    num_low = int(min(num_lines, round(w * center_fraction)))
    cols = np.zeros(w, bool)
    start = (w - num_low + 1) // 2
    cols[start:start + num_low] = True
    remaining = num_lines - num_low
    if remaining > 0:
        candidates = np.flatnonzero(~cols)
        if pattern == 'random':
            chosen = rng.choice(candidates, size=remaining, replace=False)
        elif pattern == 'equispaced':
            step = len(candidates) / remaining
            phase = rng.uniform(0, step)
            chosen = candidates[(phase +
                                 step * np.arange(remaining)).astype(int)]
        else:
            raise ValueError("cartesian_mask: pattern must be 'random' or "
                             f"'equispaced', got {pattern!r}")
        cols[chosen] = True
    return np.repeat(cols[None].astype(np.float32), h, axis=0)


# Radial golden-angle step, 180° / φ ≈ 111.246° (Winkelmann et al., IEEE
# TMI 2007).
GOLDEN_ANGLE = math.pi * 2 / (1 + math.sqrt(5))


def _spoke_offsets(h: int, w: int,
                   angles: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Pixel offsets from DC of radial spokes, (n, 2K + 1) rows and columns
    for n angles (radians from the column axis, rows growing with
    ``sin(angle)``), K = max(h, w) // 2 + 1.

    Rasterised from the centre outwards (a DDA along each spoke's major
    axis): at every integer offset ``k`` along the major axis the minor
    offset is ``k`` times the slope, rounded half to even. A spoke thus
    always contains the DC pixel (k = 0), every pixel lies within half a
    pixel of the ideal line (along the minor axis), the spoke is
    8-connected, and offset ``-k`` gives exactly the negated pixel of
    ``+k`` (the spoke is point-symmetric about DC). No line clipping moves
    the spoke; pixels outside the image are dropped by the caller.
    """
    angles = np.atleast_1d(np.asarray(angles, np.float64))[:, None]
    c, s = np.cos(angles), np.sin(angles)
    half = max(h, w) // 2 + 1  # beyond this, the major axis leaves the image
    k = np.arange(-half, half + 1, dtype=np.float64)[None]
    horizontal = np.abs(c) >= np.abs(s)  # one pixel per column
    with np.errstate(divide='ignore', invalid='ignore'):
        rows = np.where(horizontal, np.rint(k * (s / c)), k)
        cols = np.where(horizontal, k, np.rint(k * (c / s)))
    return rows.astype(np.int64), cols.astype(np.int64)


def _spoke_pixels(h: int, w: int, angle: float) -> Tuple[np.ndarray,
                                                          np.ndarray]:
    """Rows and columns of the pixels of one radial spoke (a full diameter
    through the DC pixel ``(h // 2, w // 2)``); see :func:`_spoke_offsets`.
    """
    rows, cols = _spoke_offsets(h, w, np.array([angle]))
    rows, cols = rows[0] + h // 2, cols[0] + w // 2  # DC after fftshift
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    return rows[inside], cols[inside]


def _radial_lines(h: int, w: int, angles: np.ndarray) -> np.ndarray:
    """(h, w) uint8 mask with the spokes of :func:`_spoke_offsets` at
    ``angles`` set to 1."""
    mask = np.zeros((h, w), np.uint8)
    rows, cols = _spoke_offsets(h, w, angles)
    rows, cols = rows + h // 2, cols + w // 2  # DC position after fftshift
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    mask[rows[inside], cols[inside]] = 1
    return mask


def radial_mask(shape: Tuple[int, int],
                num_lines: Optional[int] = None,
                acceleration: Optional[float] = None,
                golden_angle: bool = False,
                seed: Optional[int] = None,
                rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """Radial (CT-like / radial MRI) mask: spokes through the DC centre.

    ``num_lines`` spokes (full diameters) at angles ``θ₀ + iπ/num_lines``
    (or ``θ₀ + i·π/φ``, ``π/φ`` ≈ 111.246°, with ``golden_angle=True``),
    ``θ₀`` uniform from the seed. The golden-angle step is the radial
    profile order of Winkelmann et al., "An optimal radial profile order
    based on the golden ratio for time-resolved MRI", IEEE TMI 26(1), 2007:
    180° divided by the golden ratio ``φ = (1 + √5) / 2``, so any number of
    consecutive spokes covers the half-circle nearly uniformly. With
    ``acceleration`` instead of ``num_lines``, the smallest number of spokes
    whose sampled fraction reaches ``1/acceleration`` is used.

    Each spoke is rasterised from the DC pixel outwards (see
    :func:`_spoke_offsets`): it passes through DC, every pixel is within
    half a pixel of the ideal line, and the mask is point-symmetric about
    DC (wherever the mirrored pixel lies inside the image).

    Returns:
        np.ndarray: float32 (H, W) mask in {0, 1}, DC at ``(H//2, W//2)``.
    """
    h, w = (int(s) for s in shape)
    rng = _rng(seed, rng)
    theta0 = rng.uniform(0, math.pi)
    golden = GOLDEN_ANGLE

    def angles(n):
        if golden_angle:
            return theta0 + golden * np.arange(n)
        return theta0 + math.pi * np.arange(n) / n

    if num_lines is None:
        if acceleration is None or acceleration < 1:
            raise ValueError('radial_mask: give num_lines or acceleration '
                             f'>= 1, got {acceleration!r}')
        target = 1.0 / acceleration
        lo, hi = 1, 2 * max(h, w)
        while lo < hi:  # smallest n with fraction >= target
            mid = (lo + hi) // 2
            if _radial_lines(h, w, angles(mid)).mean() >= target:
                hi = mid
            else:
                lo = mid + 1
        num_lines = lo
    if num_lines < 1:
        raise ValueError(f'radial_mask: num_lines must be >= 1, got '
                         f'{num_lines}')
    return _radial_lines(h, w, angles(int(num_lines))).astype(np.float32)


__all__ = [
    'LinearOperator', 'Blur', 'Downsample', 'KSpaceMask', 'cartesian_mask',
    'radial_mask', 'PADDINGS'
]
