"""Blur-kernel generators (NumPy, float64, normalised to sum 1).

Every generator returns an odd-sized ``(k, k)`` array whose centre pixel is
the origin of the point-spread function, so :class:`~dunseg.physics.Blur`
does not shift the image.
"""
import math
from typing import Sequence, Tuple, Union

import numpy as np


def _check_size(size: int, name: str) -> int:
    if int(size) != size or size < 1 or size % 2 == 0:
        raise ValueError(f'{name}: size must be a positive odd int so the '
                         f'kernel has a centre pixel, got {size!r}')
    return int(size)


def gaussian_kernel(size: int,
                    sigma: Union[float, Tuple[float, float]],
                    angle: float = 0.0) -> np.ndarray:
    """Sampled (an)isotropic 2-D Gaussian point-spread function.

    ``k(u, v) ∝ exp(-(u'²/(2σ₁²) + v'²/(2σ₂²)))`` with ``(u', v')`` the pixel
    offsets from the centre rotated by ``angle`` (degrees, counter-clockwise).

    Args:
        size (int): Odd side length.
        sigma (float | tuple[float, float]): Standard deviation(s) in pixels
            (σ₁ along the rotated x axis, σ₂ along the rotated y axis).
        angle (float): Rotation of the σ₁ axis in degrees.

    Returns:
        np.ndarray: ``(size, size)`` float64 kernel summing to 1.
    """
    size = _check_size(size, 'gaussian_kernel')
    s1, s2 = (sigma, sigma) if np.isscalar(sigma) else sigma
    if s1 <= 0 or s2 <= 0:
        raise ValueError(f'gaussian_kernel: sigma must be > 0, got {sigma!r}')
    r = size // 2
    y, x = np.mgrid[-r:r + 1, -r:r + 1].astype(np.float64)
    t = math.radians(angle)
    u = x * math.cos(t) - y * math.sin(t)  # image rows point down
    v = x * math.sin(t) + y * math.cos(t)
    k = np.exp(-0.5 * ((u / s1)**2 + (v / s2)**2))
    return k / k.sum()


def _splat(xs: np.ndarray, ys: np.ndarray, size: int) -> np.ndarray:
    """Accumulate equal-weight points (pixel coordinates) with bilinear
    weights into a normalised (size, size) kernel."""
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    fx, fy = xs - x0, ys - y0
    k = np.zeros((size, size), np.float64)
    for ox, oy, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)),
                      (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        xi, yi = x0 + ox, y0 + oy
        ok = (xi >= 0) & (xi < size) & (yi >= 0) & (yi < size)
        np.add.at(k, (yi[ok], xi[ok]), w[ok])
    if k.sum() <= 0:
        k[size // 2, size // 2] = 1.0
    return k / k.sum()


def motion_blur_kernel(size: int,
                       length: float,
                       angle: float,
                       samples_per_px: int = 16) -> np.ndarray:
    """Linear (constant-velocity) motion blur: a line segment PSF.

    The camera moves ``length`` pixels along direction ``angle`` (degrees,
    counter-clockwise from the +x axis, image rows pointing down) during the
    exposure; the PSF is the segment of length ``length - 1`` between the
    first and last pixel centres it covers, centred on the kernel centre,
    sampled densely and splatted bilinearly (symmetric, sub-pixel
    accurate).

    Args:
        size (int): Odd side length (``>= length`` to avoid truncation).
        length (float): Extent of the motion in pixels (``>= 1``; 1 gives
            the identity kernel).
        angle (float): Direction in degrees.
        samples_per_px (int): Samples per pixel of path length.

    Returns:
        np.ndarray: ``(size, size)`` float64 kernel summing to 1.
    """
    size = _check_size(size, 'motion_blur_kernel')
    if length < 1:
        raise ValueError(
            f'motion_blur_kernel: length must be >= 1 px, got {length}')
    t = math.radians(angle)
    n = max(2, int(math.ceil(length * samples_per_px)))
    s = np.linspace(-(length - 1) / 2, (length - 1) / 2, n)
    c = size // 2
    return _splat(c + s * math.cos(t), c - s * math.sin(t), size)


def random_motion_kernel(size: int,
                         rng: np.random.Generator,
                         length_range: Tuple[float, float] = (5.0, 15.0),
                         curvature: float = 0.6,
                         num_points: int = 64) -> np.ndarray:
    """Random camera-shake kernel: a smooth random trajectory, rasterised.

    A path with momentum (direction changes of total std ``curvature``
    radians) and length uniform in ``length_range`` is traced from a random
    initial angle, centred on its centroid and splatted bilinearly.
    ``curvature=0`` gives a straight (linear) motion kernel.

    Args:
        size (int): Odd side length.
        rng (np.random.Generator): Source of randomness (deterministic per
            seed).
        length_range (tuple[float, float]): Path length in pixels.
        curvature (float): Std of the total turning angle in radians.
        num_points (int): Samples along the path.

    Returns:
        np.ndarray: ``(size, size)`` float64 kernel summing to 1.
    """
    size = _check_size(size, 'random_motion_kernel')
    length = rng.uniform(*length_range)
    theta0 = rng.uniform(0, 2 * math.pi)
    turns = rng.standard_normal(num_points -
                                1) * curvature / math.sqrt(num_points)
    theta = theta0 + np.concatenate([[0.0], np.cumsum(turns)])
    step = length / (num_points - 1)
    xs = np.concatenate([[0.0], np.cumsum(step * np.cos(theta[1:]))])
    ys = np.concatenate([[0.0], np.cumsum(step * np.sin(theta[1:]))])
    c = size // 2
    return _splat(xs - xs.mean() + c, ys - ys.mean() + c, size)


def bicubic_weights(x: np.ndarray, a: float = -0.5) -> np.ndarray:
    """Keys' cubic convolution kernel (``a=-0.5`` as MATLAB ``imresize``)."""
    ax = np.abs(x)
    ax2, ax3 = ax**2, ax**3
    return np.where(
        ax <= 1, (a + 2) * ax3 - (a + 3) * ax2 + 1,
        np.where(ax < 2, a * ax3 - 5 * a * ax2 + 8 * a * ax - 4 * a, 0.0))


def resize_matrix(in_size: int,
                  factor: int,
                  kernel: str = 'bicubic',
                  boundary: str = 'symmetric') -> np.ndarray:
    """1-D downscaling matrix ``M`` (``in_size // factor`` x ``in_size``).

    Output sample ``j`` (0-based) sits at input coordinate
    ``(j + 0.5) * factor - 0.5`` (pixel-centre alignment, as MATLAB
    ``imresize``); its weights are the kernel stretched by ``factor``
    (anti-aliasing), normalised to sum 1. Taps falling outside the signal
    are folded back according to ``boundary`` (``'symmetric'``: mirror
    including the edge sample, like ``imresize``; ``'circular'``: wrap).
    Folding keeps the operator linear, so ``M.T`` is its exact adjoint.

    Args:
        in_size (int): Input length (must be a multiple of ``factor``).
        factor (int): Integer downscaling factor.
        kernel (str): ``'bicubic'`` (Keys, a=-0.5, width 4·factor) or
            ``'box'`` (block average, width factor).
        boundary (str): ``'symmetric'`` or ``'circular'``.
    """
    if in_size % factor:
        raise ValueError(
            f'resize_matrix: size {in_size} is not a multiple of the factor '
            f'{factor}; crop the image to a multiple of {factor} first')
    out = in_size // factor
    m = np.zeros((out, in_size), np.float64)
    if kernel == 'box':
        for j in range(out):
            m[j, j * factor:(j + 1) * factor] = 1.0 / factor
        return m
    if kernel != 'bicubic':
        raise ValueError(f"resize_matrix: kernel must be 'bicubic' or 'box', "
                         f'got {kernel!r}')
    half_width = 2.0 * factor
    for j in range(out):
        centre = (j + 0.5) * factor - 0.5
        lo = int(math.floor(centre - half_width))
        hi = int(math.ceil(centre + half_width))
        idx = np.arange(lo, hi + 1)
        w = bicubic_weights((idx - centre) / factor)
        w = w / w.sum()
        for i, wi in zip(idx, w):
            if wi == 0:
                continue
            if boundary == 'circular':
                i = i % in_size
            elif boundary == 'symmetric':
                period = 2 * in_size
                i = i % period
                if i >= in_size:
                    i = period - 1 - i
            else:
                raise ValueError(
                    "resize_matrix: boundary must be 'symmetric' or "
                    f"'circular', got {boundary!r}")
            m[j, i] += wi
    return m


def as_kernel_array(kernel: Union[np.ndarray, Sequence]) -> np.ndarray:
    """Validate a user kernel: 2-D (or 3-D per channel), finite."""
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim not in (2, 3) or not np.all(np.isfinite(k)):
        raise ValueError('kernel must be a finite (kh, kw) or (C, kh, kw) '
                         f'array, got shape {k.shape}')
    return k


__all__ = [
    'gaussian_kernel', 'motion_blur_kernel', 'random_motion_kernel',
    'bicubic_weights', 'resize_matrix', 'as_kernel_array'
]
