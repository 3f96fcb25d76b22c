"""NUN's synthetic degradations of COD images: low light, haze, low
resolution and their combination, at three levels."""
import zlib
from typing import Optional, Sequence, Union

import numpy as np
from mmcv.transforms import BaseTransform

from dunseg.physics.synthesizers import (
    add_haze,
    low_light,
    practical_lowres,
    smooth_depth_map,
)
from dunseg.registry import TRANSFORMS

from .common import _name

DEGRADATION_KINDS = ('lowlight', 'haze', 'lowres', 'combined')
DEGRADATION_LEVELS = ('light', 'medium', 'heavy')

# Parameter ranges per level (each drawn uniformly per image). The NUN
# paper (He et al., arXiv 2511.18164) gives no values for them and no
# official code is published; these are chosen so that `light` is visibly
# degraded but easy, `heavy` near the limit of what a person still segments.
LOWLIGHT_LEVELS = dict(
    light=dict(scale=(0.35, 0.5), gamma=(1.1, 1.4), read_noise=(0.002, 0.005),
               shot_noise=(0.005, 0.015)),
    medium=dict(scale=(0.15, 0.3), gamma=(1.4, 1.8),
                read_noise=(0.005, 0.01), shot_noise=(0.015, 0.03)),
    heavy=dict(scale=(0.05, 0.12), gamma=(1.8, 2.3),
               read_noise=(0.01, 0.02), shot_noise=(0.03, 0.05)))
HAZE_LEVELS = dict(
    light=dict(beta=(0.4, 0.8), airlight=(0.7, 0.9)),
    medium=dict(beta=(0.9, 1.4), airlight=(0.75, 0.95)),
    heavy=dict(beta=(1.6, 2.4), airlight=(0.8, 1.0)))
# scale: total down-sampling factor; blur_sigma in low-resolution pixels of
# each order; noise in 0-255 units; jpeg quality.
LOWRES_LEVELS = dict(
    light=dict(scale=(1.5, 2.0), blur_sigma=(0.2, 1.2), noise=(0.5, 4.0),
               jpeg=(70, 95)),
    medium=dict(scale=(2.5, 3.0), blur_sigma=(0.4, 2.0), noise=(2.0, 10.0),
                jpeg=(45, 80)),
    heavy=dict(scale=(3.5, 4.0), blur_sigma=(0.6, 3.0), noise=(5.0, 18.0),
               jpeg=(30, 60)))


def _draw(rng: np.random.Generator, low_high) -> float:
    return float(rng.uniform(*low_high))


def degrade_lowlight(img: np.ndarray, rng: np.random.Generator,
                     level: str = 'medium') -> np.ndarray:
    """Retinex-style low light (:func:`dunseg.physics.low_light`) with the
    level's illumination scale, gamma and Poisson-Gaussian noise."""
    p = LOWLIGHT_LEVELS[level]
    return low_light(img, rng, scale=_draw(rng, p['scale']),
                     gamma=_draw(rng, p['gamma']),
                     read_noise=_draw(rng, p['read_noise']),
                     shot_noise=_draw(rng, p['shot_noise']))


def degrade_haze(img: np.ndarray, rng: np.random.Generator,
                 level: str = 'medium') -> np.ndarray:
    """Atmospheric scattering ``I = J t + A (1 - t)``, ``t = exp(-β d)``
    (:func:`dunseg.physics.add_haze`) with a procedural depth map
    (:func:`dunseg.physics.smooth_depth_map`) and the level's β, A."""
    p = HAZE_LEVELS[level]
    depth = smooth_depth_map(img.shape[:2], rng)
    return add_haze(img, rng, depth=depth, beta=_draw(rng, p['beta']),
                    airlight=_draw(rng, p['airlight']))


def degrade_lowres(img: np.ndarray, rng: np.random.Generator,
                   level: str = 'medium') -> np.ndarray:
    """Real-ESRGAN's practical second-order chain
    (:func:`dunseg.physics.practical_lowres`: blur, down-sampling, noise,
    JPEG, twice, resized back) with the level's ranges of
    :data:`LOWRES_LEVELS`."""
    return practical_lowres(img, rng, **LOWRES_LEVELS[level])


def degrade_combined(img: np.ndarray, rng: np.random.Generator,
                     level: str = 'medium') -> np.ndarray:
    """Haze (the scene), then low light (the illumination), then the
    practical low-resolution camera chain, all at ``level``: the order in
    which the degradations happen physically."""
    out = degrade_haze(img, rng, level)
    out = degrade_lowlight(out, rng, level)
    return degrade_lowres(out, rng, level)


DEGRADE_FUNCTIONS = dict(lowlight=degrade_lowlight, haze=degrade_haze,
                         lowres=degrade_lowres, combined=degrade_combined)


def degrade_cod_image(img: np.ndarray, kind: str, level: str,
                      rng: np.random.Generator) -> np.ndarray:
    """Apply NUN degradation ``kind`` at ``level`` to an RGB float image."""
    if kind not in DEGRADE_FUNCTIONS:
        raise KeyError(f'unknown COD degradation {kind!r}; expected one of '
                       f'{DEGRADATION_KINDS}')
    if level not in DEGRADATION_LEVELS:
        raise KeyError(f'unknown degradation level {level!r}; expected one '
                       f'of {DEGRADATION_LEVELS}')
    img = np.asarray(img, dtype=np.float32)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f'COD degradations expect an (H, W, 3) RGB image, '
                         f'got shape {img.shape}')
    return DEGRADE_FUNCTIONS[kind](img, rng, level)


def degradation_seed(results: dict) -> int:
    """A stable per-image integer: the CRC32 of the image file's name (so an
    image gets the same degradation whatever the list order or subset), or
    ``sample_idx`` for generated samples without a file."""
    path = results.get('img_path')
    if path and not str(path).startswith('synthetic://'):
        name = str(path).replace('\\', '/').rsplit('/', 1)[-1]
        return zlib.crc32(name.encode('utf-8'))
    if results.get('sample_idx') is None:
        raise KeyError(
            'CODDegrade(seed=...) needs results["img_path"] or '
            '["sample_idx"] to seed each image; the dataset provides them')
    return int(results['sample_idx'])


@TRANSFORMS.register_module()
class CODDegrade(BaseTransform):
    """NUN's synthetic degradations: low light, haze, low resolution, combined.

    ``img`` becomes the degraded image and the clean image is kept as
    ``gt_img`` (packed as the data sample's ``gt_image``). Models:

    - ``'lowlight'``: Retinex-style, ``y = a·x^γ + n`` with
      Poisson-Gaussian noise (:func:`dunseg.physics.low_light`);
    - ``'haze'``: atmospheric scattering with a depth-like transmission map
      (:func:`dunseg.physics.add_haze`);
    - ``'lowres'``: Real-ESRGAN's practical second-order chain (blur,
      down-sampling, noise, JPEG, twice) resized back;
    - ``'combined'``: haze, then low light, then low resolution.

    Levels ``'light'``, ``'medium'``, ``'heavy'`` select the parameter
    ranges of :data:`LOWLIGHT_LEVELS`, :data:`HAZE_LEVELS` and
    :data:`LOWRES_LEVELS`.

    Randomness: with ``seed`` given, ``np.random.default_rng([seed, kind,
    level, image key])`` where the image key is :func:`degradation_seed`
    (test sets: every method sees the same pixels); with ``seed=None`` the
    generator is seeded from NumPy's global state (new degradation each
    epoch, reproducible under MMEngine's seeding). A list of kinds or
    levels draws one per image.

    Added keys: ``img`` (degraded), ``gt_img`` (clean), ``degradation``,
    ``degradation_level``.

    Args:
        kind (str | Sequence[str]): One of ``DEGRADATION_KINDS``, or several.
        level (str | Sequence[str]): One of ``DEGRADATION_LEVELS``, or
            several.
        seed (int, optional): Base seed for deterministic degradations.
        skip_if_degraded (bool): Leave samples that already hold a
            ``gt_img`` (degraded on disk or by the dataset) untouched.
    """

    def __init__(self,
                 kind: Union[str, Sequence[str]] = 'combined',
                 level: Union[str, Sequence[str]] = 'medium',
                 seed: Optional[int] = None,
                 skip_if_degraded: bool = True) -> None:
        kinds = (kind, ) if isinstance(kind, str) else tuple(kind)
        levels = (level, ) if isinstance(level, str) else tuple(level)
        bad = [k for k in kinds if k not in DEGRADATION_KINDS]
        if bad or not kinds:
            raise ValueError(f'CODDegrade: kind must be one or more of '
                             f'{DEGRADATION_KINDS}, got {kind!r}')
        bad = [lv for lv in levels if lv not in DEGRADATION_LEVELS]
        if bad or not levels:
            raise ValueError(f'CODDegrade: level must be one or more of '
                             f'{DEGRADATION_LEVELS}, got {level!r}')
        self.kinds, self.levels = kinds, levels
        self.seed = seed
        self.skip_if_degraded = skip_if_degraded

    def _rng(self, results: dict) -> np.random.Generator:
        if self.seed is None:
            return np.random.default_rng(np.random.randint(0, 2**31 - 1))
        return np.random.default_rng([
            int(self.seed),
            DEGRADATION_KINDS.index(self.kinds[0]),
            DEGRADATION_LEVELS.index(self.levels[0]),
            degradation_seed(results)
        ])

    def transform(self, results: dict) -> dict:
        if self.skip_if_degraded and results.get('gt_img') is not None:
            return results
        img = results.get('img')
        if img is None:
            raise KeyError(f'CODDegrade: no img in the results of '
                           f'{_name(results)}; load it first')
        rng = self._rng(results)
        kind = self.kinds[int(rng.integers(len(self.kinds)))]
        level = self.levels[int(rng.integers(len(self.levels)))]
        clean = np.ascontiguousarray(img, dtype=np.float32)
        results['gt_img'] = clean
        results['img'] = degrade_cod_image(clean, kind, level, rng)
        results['degradation'] = kind
        results['degradation_level'] = level
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(kind={self.kinds}, '
                f'level={self.levels}, seed={self.seed})')

