"""Non-linear degradation synthesizers (NumPy, deterministic per Generator).

Images are ``(H, W, C)`` (or ``(H, W)``) float arrays in [0, 1]; outputs are
float32 in [0, 1]. Each function takes a :class:`numpy.random.Generator`
(``rng``), draws every random quantity from it and returns the degraded
image, so the same seed always gives the same result. Parameters left to
``None`` are sampled from the documented ranges; passing them fixes them.

:func:`synthesize` maps a degradation name of
:mod:`dunseg.datasets.degradation_types` (plus ``'jpeg'``) to these models:

========================  ==================================================
name                      model
========================  ==================================================
``denoise_15/25/50``      ``y = clip(x + n)``, ``n ~ N(0, (σ/255)²)``
``dehaze``                ``I = J·t + A·(1 - t)``, ``t = exp(-β·d)``
``derain``                ``O = clip(B + R)`` (additive streak layer R)
``deblur``                ``y = k ⊛ x`` (:class:`~dunseg.physics.Blur`)
``delowlight``            ``y = clip(a·x^γ + n)`` (Retinex scaling + noise)
``jpeg``                  JPEG round trip at quality ``q`` (OpenCV)
``lowres``                Real-ESRGAN's practical chain (blur, down-sample,
                          noise, JPEG, twice) resized back
``clean``                 the identity: a "no degradation" class, so a
                          degradation recogniser can learn to say so
========================  ==================================================
"""
from typing import Dict, Optional, Tuple

import cv2
import numpy as np
import torch

from .kernels import gaussian_kernel, motion_blur_kernel, random_motion_kernel
from .operators import Blur

NOISE_SIGMAS = {'denoise_15': 15.0, 'denoise_25': 25.0, 'denoise_50': 50.0}
# side of the blur kernel ``synthesize`` draws when none is given
DEFAULT_BLUR_SIZE = 15
SYNTHESIZABLE = ('denoise_15', 'denoise_25', 'denoise_50', 'dehaze', 'derain',
                 'deblur', 'delowlight', 'jpeg', 'lowres', 'clean')
# down-sampling interpolations of the practical chain, drawn uniformly
PRACTICAL_RESIZE_MODES = (cv2.INTER_AREA, cv2.INTER_LINEAR, cv2.INTER_CUBIC)


def _as_float(img: np.ndarray, name: str) -> np.ndarray:
    img = np.asarray(img)
    if img.ndim not in (2, 3):
        raise ValueError(f'{name} expects an (H, W) or (H, W, C) image, got '
                         f'shape {img.shape}')
    if not np.issubdtype(img.dtype, np.floating):
        raise TypeError(f'{name} expects a float image in [0, 1], got '
                        f'{img.dtype}; divide uint8 images by 255 first')
    return img.astype(np.float32, copy=False)


def _uniform(rng, value, low_high):
    return float(rng.uniform(*low_high)) if value is None else float(value)


def add_gaussian_noise(img: np.ndarray,
                       sigma: float,
                       rng: np.random.Generator,
                       clip: bool = True,
                       quantize: bool = False) -> np.ndarray:
    """Additive white Gaussian noise: ``y = x + n``, ``n ~ N(0, (σ/255)²)``.

    Args:
        img (np.ndarray): Clean image in [0, 1].
        sigma (float): Noise std in 0-255 units (15, 25, 50 in the
            all-in-one benchmarks).
        rng (np.random.Generator): Noise source.
        clip (bool): Clip the result to [0, 1] (the benchmarks do, since
            they store 8-bit images).
        quantize (bool): Round to 8-bit levels (like the official code,
            which truncates ``clip(x + n)`` to ``uint8``).
    """
    img = _as_float(img, 'add_gaussian_noise')
    noise = rng.standard_normal(img.shape, dtype=np.float32)
    noisy = img + noise * np.float32(sigma / 255.0)
    if clip:
        noisy = np.clip(noisy, 0.0, 1.0)
    if quantize:
        noisy = np.floor(noisy * 255.0) / 255.0
    return noisy.astype(np.float32)


def smooth_depth_map(shape: Tuple[int, int],
                     rng: np.random.Generator,
                     horizon: Optional[float] = None,
                     roughness: float = 0.25) -> np.ndarray:
    """Procedural smooth scene depth in [0, 1] (0 = near, 1 = far).

    A ground-plane-like ramp (depth grows towards a random horizon row,
    with a random tilt) plus multi-octave smooth random fields of relative
    amplitude ``roughness`` (objects at various distances), rescaled to
    [0, 1].
    """
    h, w = (int(s) for s in shape)
    horizon = _uniform(rng, horizon, (-0.2, 0.6))
    rows = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    cols = np.linspace(-0.5, 0.5, w, dtype=np.float32)[None, :]
    tilt = np.float32(rng.uniform(-0.3, 0.3))
    ramp = np.clip(
        1.0 - (rows - horizon + tilt * cols) / (1.0 - horizon + 1e-3), 0.0,
        1.0)
    field = np.zeros((h, w), np.float32)
    amp = 1.0
    for cells in (2, 4, 8):
        grid = rng.standard_normal((cells, cells), dtype=np.float32)
        field += np.float32(amp) * cv2.resize(grid, (w, h),
                                              interpolation=cv2.INTER_CUBIC)
        amp *= 0.5
    depth = ramp + np.float32(roughness) * field
    depth -= depth.min()
    peak = depth.max()
    return (depth / peak if peak > 0 else depth).astype(np.float32)


def add_haze(
    img: np.ndarray,
    rng: np.random.Generator,
    depth: Optional[np.ndarray] = None,
    beta: Optional[float] = None,
    airlight: Optional[float] = None,
    depth_range: Tuple[float, float] = (0.1, 1.2)
) -> np.ndarray:
    """Atmospheric scattering model (Koschmieder): ``I = J·t + A·(1 - t)``.

    The transmission is ``t = exp(-β·d)`` with the depth ``d`` (a
    :func:`smooth_depth_map` in [0, 1] unless given) mapped linearly to
    ``depth_range``. ``β`` (scattering coefficient) is drawn from
    [0.6, 1.8] and the global airlight ``A`` (grey, per-channel jitter
    ±0.03) from [0.7, 1.0] unless given. As depth grows, ``t → 0`` and the
    pixel tends to ``A``.
    """
    img = _as_float(img, 'add_haze')
    h, w = img.shape[:2]
    if depth is None:
        depth = smooth_depth_map((h, w), rng)
    depth = np.asarray(depth, np.float32)
    if depth.shape != (h, w):
        raise ValueError(f'add_haze: depth has shape {depth.shape}, expected '
                         f'{(h, w)}')
    beta = _uniform(rng, beta, (0.6, 1.8))
    a = _uniform(rng, airlight, (0.7, 1.0))
    d = depth_range[0] + (depth_range[1] - depth_range[0]) * depth
    t = np.exp(-beta * d).astype(np.float32)
    if img.ndim == 3:
        t = t[..., None]
        a = np.clip(a + rng.uniform(-0.03, 0.03, img.shape[2]), 0,
                    1).astype(np.float32)
    return np.clip(img * t + a * (1.0 - t), 0.0, 1.0).astype(np.float32)


def rain_streak_layer(shape: Tuple[int, int],
                      rng: np.random.Generator,
                      density: Optional[float] = None,
                      length: Optional[float] = None,
                      angle: Optional[float] = None,
                      width: int = 1,
                      intensity: Optional[float] = None) -> np.ndarray:
    """Procedural rain-streak layer ``R`` in [0, 1], shape (H, W).

    ``round(density · H · W / 100)`` seeds (``density`` = drops per 100
    pixels, default uniform in [0.5, 2.5]) of random brightness become line
    segments of ``length`` px (default [6, 16], ±30 % per streak) at
    ``angle`` degrees from vertical (default [-25, 25], ±5° per streak).
    The segments are then motion-blurred along the same direction with a
    :func:`~dunseg.physics.kernels.motion_blur_kernel` (the streak
    "trail"), and scaled to peak ``intensity`` (default [0.5, 0.9]).
    """
    h, w = (int(s) for s in shape)
    density = _uniform(rng, density, (0.5, 2.5))
    length = _uniform(rng, length, (6.0, 16.0))
    angle = _uniform(rng, angle, (-25.0, 25.0))
    intensity = _uniform(rng, intensity, (0.5, 0.9))
    n = int(round(density * h * w / 100.0))
    layer = np.zeros((h, w), np.float32)
    if n == 0:
        return layer
    ys = rng.uniform(0, h, n)
    xs = rng.uniform(0, w, n)
    lens = length * rng.uniform(0.7, 1.3, n)
    angs = np.radians(angle + rng.uniform(-5.0, 5.0, n))
    vals = rng.uniform(0.5, 1.0, n)
    dx, dy = np.sin(angs) * lens / 2, np.cos(angs) * lens / 2
    for x, y, ex, ey, v in zip(xs, ys, dx, dy, vals):
        cv2.line(layer, (int(x - ex), int(y - ey)), (int(x + ex), int(y + ey)),
                 float(v), int(width), cv2.LINE_AA)
    ksize = int(max(3, round(length / 2)) // 2 * 2 + 1)
    kernel = motion_blur_kernel(ksize, max(1.0, length / 2), 90.0 - angle)
    layer = cv2.filter2D(layer,
                         -1,
                         kernel.astype(np.float32),
                         borderType=cv2.BORDER_REFLECT)
    peak = layer.max()
    if peak > 0:
        layer *= np.float32(intensity / peak)
    return layer


def add_rain(img: np.ndarray,
             rng: np.random.Generator,
             layer: Optional[np.ndarray] = None,
             **layer_kwargs) -> np.ndarray:
    """Additive rain model of Rain100L: ``O = clip(B + R)``.

    ``R`` is :func:`rain_streak_layer` (grey, added to every channel)
    unless given; ``layer_kwargs`` are passed to it.
    """
    img = _as_float(img, 'add_rain')
    if layer is None:
        layer = rain_streak_layer(img.shape[:2], rng, **layer_kwargs)
    if img.ndim == 3:
        layer = layer[..., None]
    return np.clip(img + layer, 0.0, 1.0).astype(np.float32)


def blur_image(img: np.ndarray,
               kernel: np.ndarray,
               padding: str = 'circular') -> np.ndarray:
    """``y = k ⊛ x`` with :class:`~dunseg.physics.Blur` (same boundary)."""
    img = _as_float(img, 'blur_image')
    squeeze = img.ndim == 2
    x = torch.from_numpy(
        np.ascontiguousarray(img[...,
                                 None] if squeeze else img)).permute(2, 0,
                                                                     1)[None]
    # One image is too small for intra-op parallelism; with several
    # processes sharing the cores, torch's thread pool makes this call 30x
    # slower, so it runs single-threaded.
    num_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            y = Blur(kernel, padding=padding)(x)[0].permute(1, 2, 0).numpy()
    finally:
        torch.set_num_threads(num_threads)
    y = y[..., 0] if squeeze else y
    return np.clip(y, 0.0, 1.0).astype(np.float32)


def random_blur_kernel(rng: np.random.Generator,
                       size: int = DEFAULT_BLUR_SIZE,
                       motion_prob: float = 0.7) -> np.ndarray:
    """Camera-shake (probability ``motion_prob``) or Gaussian defocus PSF.

    Motion: :func:`random_motion_kernel` with path length in
    [0.4, 1]·``size``; Gaussian: anisotropic σ in [0.8, 0.2·size] at a
    random angle.
    """
    if rng.uniform() < motion_prob:
        return random_motion_kernel(size,
                                    rng,
                                    length_range=(0.4 * size, float(size - 1)))
    s1, s2 = rng.uniform(0.8, max(0.9, 0.2 * size), 2)
    return gaussian_kernel(size, (s1, s2), rng.uniform(0, 180))


def low_light(img: np.ndarray,
              rng: np.random.Generator,
              scale: Optional[float] = None,
              gamma: Optional[float] = None,
              read_noise: Optional[float] = None,
              shot_noise: Optional[float] = None) -> np.ndarray:
    """Retinex-style low-light model: ``y = clip(a·x^γ + n)``.

    In Retinex terms ``x = R ⊙ L``; darkening scales the illumination by
    ``a`` (default [0.05, 0.3]) and a gamma ``γ`` (default [1.2, 2.2])
    compresses it non-linearly (dark regions lose more). The sensor adds
    heteroscedastic (Poisson-Gaussian approximated) noise
    ``n ~ N(0, σ_r² + σ_s²·a·x^γ)`` with ``σ_r`` (default [0.002, 0.01])
    and ``σ_s`` (default [0.01, 0.04]).
    """
    img = _as_float(img, 'low_light')
    a = _uniform(rng, scale, (0.05, 0.3))
    g = _uniform(rng, gamma, (1.2, 2.2))
    sr = _uniform(rng, read_noise, (0.002, 0.01))
    ss = _uniform(rng, shot_noise, (0.01, 0.04))
    dark = np.float32(a) * np.power(np.clip(img, 0.0, 1.0), np.float32(g))
    std = np.sqrt(np.float32(sr**2) + np.float32(ss**2) * dark)
    noisy = dark + std * rng.standard_normal(img.shape, dtype=np.float32)
    return np.clip(noisy, 0.0, 1.0).astype(np.float32)


def jpeg_compress(img: np.ndarray, quality: int) -> np.ndarray:
    """JPEG round trip through ``cv2.imencode`` at ``quality`` (1-100).

    The image is quantised to 8 bit, encoded (4:2:0 chroma subsampling,
    OpenCV's default) and decoded. Deterministic (no randomness).
    """
    img = _as_float(img, 'jpeg_compress')
    if not 1 <= int(quality) <= 100:
        raise ValueError(f'jpeg_compress: quality must be in [1, 100], got '
                         f'{quality}')
    u8 = np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)
    if u8.ndim == 3 and u8.shape[2] == 3:
        u8 = u8[..., ::-1]  # RGB -> BGR for OpenCV
    ok, buf = cv2.imencode('.jpg', np.ascontiguousarray(u8),
                           [int(cv2.IMWRITE_JPEG_QUALITY),
                            int(quality)])
    if not ok:
        raise RuntimeError('jpeg_compress: cv2.imencode failed')
    flag = cv2.IMREAD_GRAYSCALE if u8.ndim == 2 else cv2.IMREAD_COLOR
    out = cv2.imdecode(buf, flag)
    if out.ndim == 3:
        out = out[..., ::-1]
        if img.ndim == 3 and img.shape[2] == 1:
            out = out[..., :1]
    elif img.ndim == 3:
        out = out[..., None]
    return (out.astype(np.float32) / 255.0)


def practical_blur(img: np.ndarray, rng: np.random.Generator,
                   sigma: float) -> np.ndarray:
    """One blur of Real-ESRGAN's practical model: an anisotropic Gaussian
    (:func:`~dunseg.physics.gaussian_kernel`, 75 %) or a camera-shake
    kernel (:func:`random_blur_kernel`, 25 %) of about ``sigma``, reflect
    padding."""
    size = int(2 * np.ceil(3 * sigma) + 1)
    size = max(3, min(size, 21))
    if rng.uniform() < 0.75:
        s2 = sigma * rng.uniform(0.5, 1.0)
        kernel = gaussian_kernel(size, (max(sigma, 0.1), max(s2, 0.1)),
                                 rng.uniform(0, 180))
    else:
        kernel = random_blur_kernel(rng, size=size, motion_prob=1.0)
    return cv2.filter2D(img, -1, kernel.astype(np.float32),
                        borderType=cv2.BORDER_REFLECT)


def practical_lowres(img: np.ndarray,
                     rng: np.random.Generator,
                     scale: Tuple[float, float] = (2.5, 3.0),
                     blur_sigma: Tuple[float, float] = (0.4, 2.0),
                     noise: Tuple[float, float] = (2.0, 10.0),
                     jpeg: Tuple[int, int] = (45, 80)) -> np.ndarray:
    """Practical second-order degradation (Real-ESRGAN, Wang et al. 2021).

    Two rounds of blur -> resize down (random interpolation) -> Gaussian
    noise -> JPEG, the down-sampling shared between the rounds so that the
    total factor is drawn from ``scale``; the low-resolution result is
    resized back to the input size (bicubic), so the output has the input's
    size with the detail gone. The second round's blur is skipped with
    probability 0.2 as in Real-ESRGAN. Each argument is a (low, high) range
    drawn uniformly (``noise`` in 8-bit σ, ``jpeg`` the quality, integers);
    the defaults are NUN's 'medium' level
    (:data:`dunseg.datasets.transforms.cod.LOWRES_LEVELS`).
    """
    img = _as_float(img, 'practical_lowres')
    h, w = img.shape[:2]
    total = _uniform(rng, None, scale)
    first = total**rng.uniform(0.3, 0.7)
    out = img
    for order, factor in enumerate((first, total / first)):
        if order == 0 or rng.uniform() < 0.8:
            out = practical_blur(out, rng,
                                 _uniform(rng, None, blur_sigma) * factor)
        size_h = max(4, int(round(out.shape[0] / factor)))
        size_w = max(4, int(round(out.shape[1] / factor)))
        mode = PRACTICAL_RESIZE_MODES[int(
            rng.integers(len(PRACTICAL_RESIZE_MODES)))]
        out = cv2.resize(out, (size_w, size_h), interpolation=mode)
        out = np.clip(out, 0.0, 1.0)
        out = add_gaussian_noise(out, _uniform(rng, None, noise), rng)
        out = jpeg_compress(out, int(rng.integers(jpeg[0], jpeg[1] + 1)))
    out = cv2.resize(out, (w, h), interpolation=cv2.INTER_CUBIC)
    if img.ndim == 3 and out.ndim == 2:  # OpenCV drops a single channel
        out = out[..., None]
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def synthesize(img: np.ndarray,
               degradation: str,
               rng: np.random.Generator,
               params: Optional[Dict[str, dict]] = None) -> np.ndarray:
    """Apply the degradation model named ``degradation`` (see the table).

    Args:
        img (np.ndarray): Clean (H, W, C) image in [0, 1].
        degradation (str): One of :data:`SYNTHESIZABLE`.
        rng (np.random.Generator): Randomness (deterministic per seed).
        params (dict, optional): Per-degradation keyword overrides, e.g.
            ``{'dehaze': dict(beta=1.0), 'jpeg': dict(quality=20),
            'deblur': dict(size=11, padding='zero')}``.
    """
    params = dict((params or {}).get(degradation, {}))
    if degradation in NOISE_SIGMAS:
        return add_gaussian_noise(img, NOISE_SIGMAS[degradation], rng,
                                  **params)
    if degradation == 'dehaze':
        return add_haze(img, rng, **params)
    if degradation == 'derain':
        return add_rain(img, rng, **params)
    if degradation == 'deblur':
        padding = params.pop('padding', 'circular')
        kernel = params.pop('kernel', None)
        if kernel is None:
            size = params.pop('size', DEFAULT_BLUR_SIZE)
            size = min(size, (min(img.shape[:2]) - 1) // 2 * 2 + 1)
            kernel = random_blur_kernel(rng, size=size, **params)
        return blur_image(img, kernel, padding=padding)
    if degradation == 'delowlight':
        return low_light(img, rng, **params)
    if degradation == 'lowres':
        return practical_lowres(img, rng, **params)
    if degradation == 'clean':
        if params:
            raise KeyError(f"synthesize: 'clean' takes no parameters, got "
                           f'{sorted(params)}')
        return _as_float(img, 'synthesize').copy()
    if degradation == 'jpeg':
        quality = params.pop('quality', None)
        if quality is None:
            low, high = params.pop('quality_range', (10, 40))
            quality = int(rng.integers(low, high + 1))
        return jpeg_compress(img, quality)
    raise KeyError(f'synthesize: unknown degradation {degradation!r}; '
                   f'expected one of {SYNTHESIZABLE}')


__all__ = [
    'NOISE_SIGMAS', 'DEFAULT_BLUR_SIZE', 'SYNTHESIZABLE',
    'add_gaussian_noise', 'smooth_depth_map',
    'add_haze', 'rain_streak_layer', 'add_rain', 'blur_image',
    'random_blur_kernel', 'low_light', 'jpeg_compress', 'practical_blur',
    'practical_lowres', 'PRACTICAL_RESIZE_MODES', 'synthesize'
]
