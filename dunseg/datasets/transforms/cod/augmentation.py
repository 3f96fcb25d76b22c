"""RUN's training augmentations, geometric (flip, crop, rotation, resize)
and photometric (colour enhancement, pepper noise on the ground truth).

Geometric transforms apply the same flip / crop / rotation to every image
and map key present, images with bilinear (bicubic for rotation, as RUN)
and maps with nearest interpolation so masks stay binary.

The augmentations reproduce RUN's / SINet-V2's training loader
(``util/dataloader.py``): horizontal flip (p 0.5), a centred random crop
that removes up to ``border`` = 30 px in each direction, rotation by an
integer angle in [-15, 15) degrees with probability 0.2, colour
enhancement (PIL ``ImageEnhance`` brightness and contrast in [0.5, 1.5],
colour in [0, 2], sharpness in [0, 3], factors in steps of 0.1), pepper
noise on the ground truth (0.15 % of the pixels set to 0 or 1) and a
resize to the training size. ImageNet normalisation is done by the model's
data preprocessor, not here.
"""
from typing import Sequence, Tuple, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from dunseg.registry import TRANSFORMS

from .common import (
    COD_IMAGE_KEYS,
    COD_MAP_KEYS,
    _check_same_size,
    _name,
    _present_keys,
)


@TRANSFORMS.register_module()
class CODRandomFlip(BaseTransform):
    """Horizontal flip of image(s) and maps with probability ``prob``
    (RUN: 0.5). Adds ``flip`` and ``flip_direction``."""

    def __init__(self, prob: float = 0.5) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'CODRandomFlip: prob must be in [0, 1], got '
                             f'{prob}')
        self.prob = prob

    def transform(self, results: dict) -> dict:
        keys = _present_keys(results, COD_IMAGE_KEYS + COD_MAP_KEYS)
        _check_same_size(results, keys, type(self).__name__)
        flip = bool(np.random.rand() < self.prob)
        if flip:
            for k in keys:
                results[k] = np.ascontiguousarray(results[k][:, ::-1])
        results['flip'] = flip
        results['flip_direction'] = 'horizontal' if flip else None
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(prob={self.prob})'


@TRANSFORMS.register_module()
class CODRandomCrop(BaseTransform):
    """RUN's ``randomCrop``: a centred window ``border`` px smaller at most.

    The window's width is drawn from ``[W - border, W)`` and its height
    from ``[H - border, H)`` (``np.random.randint``), and it is centred
    (offsets ``(W - w) >> 1``). Images smaller than ``border`` + 1 are left
    as they are. Adds ``crop_bbox`` (top, left, bottom, right).
    """

    def __init__(self, border: int = 30) -> None:
        if int(border) != border or border < 1:
            raise ValueError(f'CODRandomCrop: border must be a positive int, '
                             f'got {border!r}')
        self.border = int(border)

    def transform(self, results: dict) -> dict:
        keys = _present_keys(results, COD_IMAGE_KEYS + COD_MAP_KEYS)
        h, w = _check_same_size(results, keys, type(self).__name__)
        if h <= self.border or w <= self.border:
            return results
        cw = int(np.random.randint(w - self.border, w))
        ch = int(np.random.randint(h - self.border, h))
        left, top = (w - cw) >> 1, (h - ch) >> 1
        for k in keys:
            results[k] = np.ascontiguousarray(results[k][top:top + ch,
                                                         left:left + cw])
        results['img_shape'] = (ch, cw)
        results['crop_bbox'] = (top, left, top + ch, left + cw)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(border={self.border})'


def _rotate(arr: np.ndarray, angle: float, interpolation: int) -> np.ndarray:
    """Rotate about the centre by ``angle`` degrees counter-clockwise, same
    size, zero fill (PIL ``Image.rotate``)."""
    h, w = arr.shape[:2]
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), angle,
                                     1.0)
    out = cv2.warpAffine(arr, matrix, (w, h), flags=interpolation,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if arr.ndim == 3 and out.ndim == 2:
        out = out[..., None]
    return out


@TRANSFORMS.register_module()
class CODRandomRotate(BaseTransform):
    """RUN's ``randomRotation``: with probability ``prob`` (0.2) rotate by an
    integer angle from ``[-max_angle, max_angle)`` degrees.

    Images use bicubic interpolation (clipped back to [0, 1]), maps nearest
    (the official code rotates the masks bicubically too, which makes them
    non-binary). Corners are filled with zeros. Adds ``rotation``.
    """

    def __init__(self, prob: float = 0.2, max_angle: int = 15) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'CODRandomRotate: prob must be in [0, 1], got '
                             f'{prob}')
        self.prob = prob
        self.max_angle = int(max_angle)

    def transform(self, results: dict) -> dict:
        keys = _present_keys(results, COD_IMAGE_KEYS + COD_MAP_KEYS)
        _check_same_size(results, keys, type(self).__name__)
        angle = 0
        if np.random.rand() < self.prob and self.max_angle > 0:
            angle = int(np.random.randint(-self.max_angle, self.max_angle))
        if angle:
            for k in keys:
                if k in COD_IMAGE_KEYS:
                    results[k] = np.clip(
                        _rotate(results[k], angle, cv2.INTER_CUBIC), 0.0,
                        1.0).astype(np.float32)
                else:
                    results[k] = _rotate(results[k], angle, cv2.INTER_NEAREST)
        results['rotation'] = angle
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(prob={self.prob}, '
                f'max_angle={self.max_angle})')


def _luma(img: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma of an RGB image (PIL's ``convert('L')``)."""
    return img[..., 0] * 0.299 + img[..., 1] * 0.587 + img[..., 2] * 0.114


def enhance_colour(img: np.ndarray, brightness: float, contrast: float,
                   colour: float, sharpness: float) -> np.ndarray:
    """PIL ``ImageEnhance`` Brightness, Contrast, Color and Sharpness, in
    that order, on a float RGB image in [0, 1].

    Each step blends the image with a degenerate version,
    ``out = degenerate + factor * (img - degenerate)``, clipped to [0, 1]:
    black (brightness), the mean grey level (contrast), the grey image
    (colour) and PIL's ``SMOOTH`` 3x3 filter, border pixels unchanged
    (sharpness).
    """
    img = img.astype(np.float32, copy=True)

    def blend(degenerate, factor):
        return np.clip(degenerate + np.float32(factor) * (img - degenerate),
                       0.0, 1.0)

    img = blend(np.zeros_like(img), brightness)
    mean = np.float32(np.round(_luma(img).mean() * 255.0) / 255.0)
    img = blend(np.full_like(img, mean), contrast)
    img = blend(np.repeat(_luma(img)[..., None], 3, axis=2), colour)
    kernel = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]], np.float32) / 13.0
    smooth = cv2.filter2D(img, -1, kernel, borderType=cv2.BORDER_REPLICATE)
    smooth[0], smooth[-1], smooth[:, 0], smooth[:, -1] = (img[0], img[-1],
                                                          img[:, 0],
                                                          img[:, -1])
    return blend(smooth, sharpness).astype(np.float32)


@TRANSFORMS.register_module()
class CODColorEnhance(BaseTransform):
    """RUN's ``colorEnhance`` on ``img`` (not on ``gt_img``: degrade after it).

    Factors are drawn like the official ``random.randint(a, b) / 10`` (both
    ends included): brightness and contrast from {0.5, ..., 1.5}, colour
    from {0, ..., 2}, sharpness from {0, ..., 3}.

    Args:
        brightness, contrast, colour, sharpness (tuple[float, float]):
            Factor ranges (multiples of 0.1).
    """

    def __init__(self,
                 brightness: Tuple[float, float] = (0.5, 1.5),
                 contrast: Tuple[float, float] = (0.5, 1.5),
                 colour: Tuple[float, float] = (0.0, 2.0),
                 sharpness: Tuple[float, float] = (0.0, 3.0)) -> None:
        self.ranges = dict(brightness=tuple(brightness),
                           contrast=tuple(contrast), colour=tuple(colour),
                           sharpness=tuple(sharpness))
        for name, (low, high) in self.ranges.items():
            if low < 0 or high < low:
                raise ValueError(f'CODColorEnhance: {name} range must be '
                                 f'0 <= low <= high, got {(low, high)}')

    def transform(self, results: dict) -> dict:
        if results.get('img') is None:
            raise KeyError(f'CODColorEnhance: no img in the results of '
                           f'{_name(results)}')
        factors = {
            name: np.random.randint(int(round(lo * 10)),
                                    int(round(hi * 10)) + 1) / 10.0
            for name, (lo, hi) in self.ranges.items()
        }
        results['img'] = enhance_colour(results['img'], **factors)
        results['colour_enhance'] = factors
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.ranges})'


@TRANSFORMS.register_module()
class CODRandomPepper(BaseTransform):
    """RUN's ``randomPeper`` on the ground truth: ``ratio`` of the pixels
    (0.15 %) set to 0 or 1 at random, independently per map.

    Args:
        ratio (float): Fraction of pixels to flip to 0/1.
        keys (Sequence[str]): Maps to corrupt (``gt_seg_map`` and
            ``gt_edge_map`` as in RUN's loader).
    """

    def __init__(self, ratio: float = 0.0015,
                 keys: Sequence[str] = COD_MAP_KEYS) -> None:
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f'CODRandomPepper: ratio must be in [0, 1], got '
                             f'{ratio}')
        self.ratio = ratio
        self.keys = tuple(keys)

    def transform(self, results: dict) -> dict:
        for k in _present_keys(results, self.keys):
            m = results[k].copy()
            n = int(self.ratio * m.shape[0] * m.shape[1])
            ys = np.random.randint(0, m.shape[0], n)
            xs = np.random.randint(0, m.shape[1], n)
            m[ys, xs] = np.random.randint(0, 2, n).astype(m.dtype)
            results[k] = m
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(ratio={self.ratio}, keys={self.keys})'


@TRANSFORMS.register_module()
class ResizeCOD(BaseTransform):
    """Resize images (bilinear) and maps (nearest) to ``scale`` = (W, H).

    Only the keys present are resized: in test pipelines the annotations
    are loaded after this transform and stay at their original size.
    Adds ``scale``, ``scale_factor`` ((w_scale, h_scale)).
    """

    def __init__(self, scale: Union[int, Tuple[int, int]] = (352, 352),
                 interpolation: str = 'bilinear') -> None:
        if isinstance(scale, int):
            scale = (scale, scale)
        if len(scale) != 2 or min(scale) < 1:
            raise ValueError(f'ResizeCOD: scale must be (W, H) of positive '
                             f'ints, got {scale!r}')
        interps = dict(bilinear=cv2.INTER_LINEAR, bicubic=cv2.INTER_CUBIC,
                       area=cv2.INTER_AREA, nearest=cv2.INTER_NEAREST)
        if interpolation not in interps:
            raise ValueError(f'ResizeCOD: interpolation must be one of '
                             f'{sorted(interps)}, got {interpolation!r}')
        self.scale = (int(scale[0]), int(scale[1]))
        self.interpolation = interpolation
        self._flag = interps[interpolation]

    def transform(self, results: dict) -> dict:
        w, h = self.scale
        imgs = _present_keys(results, COD_IMAGE_KEYS)
        maps = _present_keys(results, COD_MAP_KEYS)
        if not imgs:
            raise KeyError(f'ResizeCOD: no img in the results of '
                           f'{_name(results)}')
        ih, iw = _check_same_size(results, imgs, type(self).__name__)
        for k in imgs:
            out = cv2.resize(results[k], (w, h), interpolation=self._flag)
            if out.ndim == 2:
                out = out[..., None]
            results[k] = np.clip(out, 0.0, 1.0).astype(np.float32)
        for k in maps:
            results[k] = cv2.resize(results[k], (w, h),
                                    interpolation=cv2.INTER_NEAREST)
        results['img_shape'] = (h, w)
        results['scale'] = self.scale
        results['scale_factor'] = (w / iw, h / ih)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(scale={self.scale}, '
                f'interpolation={self.interpolation!r})')

