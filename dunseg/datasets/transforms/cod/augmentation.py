"""Transforms for concealed (camouflaged) object detection (COD) pipelines.

Results contract (established by :class:`LoadCODImageFromFile` /
:class:`LoadCODAnnotations`, or by ``SyntheticCODDataset``, and kept by
every transform here):

- ``img``: ``np.float32`` (H, W, 3) RGB in [0, 1], the network input (the
  degraded image once :class:`CODDegrade` ran);
- ``gt_img``: the clean image, same shape and type (only for degraded data);
- ``gt_seg_map``: ``np.uint8`` (H, W) object mask in {0, 1};
- ``gt_edge_map``: ``np.uint8`` (H, W) object boundary in {0, 1} (loaded
  from an ``Edge`` folder or made by :class:`GenerateEdgeFromMask`);
- ``img_shape`` / ``ori_shape``: (H, W); ``dataset_name``: the test set's
  name, reported per set by ``CODMetric``.

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
import zlib
from typing import Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData

from dunseg.physics.synthesizers import (add_haze, low_light,
                                         practical_lowres, smooth_depth_map)
from dunseg.registry import TRANSFORMS
from dunseg.structures import DunSegDataSample
from dunseg.utils.finite import check_finite_image
from .loading import (LoadISTDAnnotations, LoadISTDImageFromFile,
                      decode_image_unchanged)

COD_IMAGE_KEYS = ('img', 'gt_img')
COD_MAP_KEYS = ('gt_seg_map', 'gt_edge_map')
COD_META_KEYS = ('img_path', 'seg_map_path', 'edge_path', 'ori_shape',
                 'img_shape', 'scale_factor', 'flip', 'flip_direction',
                 'rotation', 'dataset_name', 'sample_idx', 'degradation',
                 'degradation_level', 'source', 'shape_kind')

DEGRADATION_KINDS = ('lowlight', 'haze', 'lowres', 'combined')
DEGRADATION_LEVELS = ('light', 'medium', 'heavy')


def _name(results: dict) -> str:
    return repr(results.get('img_path', '<generated sample>'))


def _present_keys(results: dict, keys: Sequence[str]) -> list:
    return [k for k in keys if results.get(k) is not None]


def _check_same_size(results: dict, keys: Sequence[str],
                     who: str) -> Tuple[int, int]:
    shapes = {k: tuple(results[k].shape[:2]) for k in keys}
    if len(set(shapes.values())) > 1:
        raise ValueError(
            f'{who}: image and maps of {_name(results)} differ in size '
            f'{shapes}; a transform changed only some of them (use the COD '
            'transforms, which handle img, gt_img, gt_seg_map and '
            'gt_edge_map together), or the mask file does not match its '
            'image')
    if not shapes:
        raise KeyError(f'{who}: no image in the results of {_name(results)};'
                       ' load it first (LoadCODImageFromFile)')
    return next(iter(shapes.values()))


def mask_boundary(mask: np.ndarray, width: int = 5) -> np.ndarray:
    """Boundary band of a binary mask: ``dilate(mask) - erode(mask)``.

    Both use a (width x width) elliptical structuring element, so the band
    holds the pixels within ``width // 2`` of the contour on either side
    (about ``width - 1`` pixels across), which is what the dilated edge
    maps RUN / FEDER train with look like. An all-zero or all-one mask has
    no boundary; the image border is not a boundary.

    Args:
        mask (np.ndarray): (H, W) array, non-zero = object.
        width (int): Structuring element size (odd, >= 3).

    Returns:
        np.ndarray: (H, W) uint8 in {0, 1}.
    """
    mask = (np.asarray(mask) > 0).astype(np.uint8)
    if int(width) != width or width < 3 or width % 2 == 0:
        raise ValueError(f'mask_boundary: width must be an odd int >= 3, got '
                         f'{width!r}')
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE,
                                       (int(width), int(width)))
    dil = cv2.dilate(mask, kernel, borderType=cv2.BORDER_REPLICATE)
    ero = cv2.erode(mask, kernel, borderType=cv2.BORDER_REPLICATE)
    return (dil - ero).astype(np.uint8)


@TRANSFORMS.register_module()
class LoadCODImageFromFile(LoadISTDImageFromFile):
    """Load a COD image as RGB float32 (H, W, 3) in [0, 1].

    :class:`LoadISTDImageFromFile` with ``color_type='color'`` by default:
    grey files are replicated to three channels, BGR(A) becomes RGB.

    Required keys: ``img_path``. Added keys: ``img``, ``img_shape``,
    ``ori_shape``.
    """

    def __init__(self,
                 color_type: str = 'color',
                 scale: Union[str, float] = 'dtype_max',
                 backend_args: Optional[dict] = None) -> None:
        super().__init__(color_type=color_type, scale=scale,
                         backend_args=backend_args)


@TRANSFORMS.register_module()
class LoadCODAnnotations(LoadISTDAnnotations):
    """Load the object mask (and the edge map when the sample has one).

    Masks and edge maps are binarised at half the dtype maximum
    (``threshold=0.5``, i.e. > 127 for 8-bit files), the rule of the
    MATLAB toolbox and PySODMetrics (``gt > 128`` differs only at the value
    128), so anti-aliased or JPEG-compressed ground truths give clean masks.

    The size check compares the mask with ``results['ori_shape']`` (the
    decoded image's size), so the annotations can be loaded after a
    ``ResizeCOD`` that only resized the image: the test pipelines do this
    to score predictions at the ground truth's original size, as the
    official test scripts do.

    Required keys: ``seg_map_path``; optional ``edge_path`` (None or missing
    = no edge file; use :class:`GenerateEdgeFromMask`).

    Added keys: ``gt_seg_map``, ``gt_edge_map`` (uint8 (H, W) in {0, 1}),
    ``seg_fields``.

    Args:
        with_edge (bool): Load ``edge_path`` when the sample has one.
        threshold (float): Fraction of the dtype maximum a pixel must
            exceed. Defaults to 0.5.
        check_shape (bool): Raise when mask and image sizes differ.
        backend_args (dict, optional): mmengine file backend arguments.
    """

    def __init__(self,
                 with_edge: bool = True,
                 threshold: float = 0.5,
                 check_shape: bool = True,
                 backend_args: Optional[dict] = None) -> None:
        super().__init__(threshold=threshold, check_shape=check_shape,
                         backend_args=backend_args)
        self.with_edge = with_edge

    def transform(self, results: dict) -> dict:
        results = super().transform(results)
        edge_path = results.get('edge_path')
        if self.with_edge and edge_path:
            edge = decode_image_unchanged(edge_path, self.backend_args,
                                          'edge map')
            if edge.ndim == 3:
                edge = edge[..., :3].max(axis=2)
            cutoff = (self.threshold * np.iinfo(edge.dtype).max
                      if np.issubdtype(edge.dtype, np.integer) else
                      self.threshold)
            edge = (edge > cutoff).astype(np.uint8)
            if edge.shape != results['gt_seg_map'].shape:
                raise ValueError(
                    f'edge map {edge_path!r} has size (H, W) = {edge.shape} '
                    f'but its mask {results["seg_map_path"]!r} has '
                    f'{results["gt_seg_map"].shape}; re-create the edge maps '
                    '(or drop edge_dir and add GenerateEdgeFromMask to the '
                    'pipeline)')
            results['gt_edge_map'] = edge
            if 'gt_edge_map' not in results['seg_fields']:
                results['seg_fields'].append('gt_edge_map')
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(with_edge={self.with_edge}, '
                f'threshold={self.threshold})')


@TRANSFORMS.register_module()
class GenerateEdgeFromMask(BaseTransform):
    """Derive ``gt_edge_map`` from ``gt_seg_map`` (dilated object boundary).

    For datasets without edge maps (CAMO, CHAMELEON, NC4K, user data) and
    the synthetic data. Put it after the geometric transforms so the band
    is measured in pixels at the network's resolution.

    Args:
        width (int): Structuring element size (odd), see
            :func:`mask_boundary`. Defaults to 5: a band of 2 px on each side
            of the contour. (The thickness of the edge maps RUN trains with
            is not documented; compare yours with ``Edge/`` and set it.)
        overwrite (bool): Replace an edge map loaded from disk. Defaults to
            False (keep it).
    """

    def __init__(self, width: int = 5, overwrite: bool = False) -> None:
        if int(width) != width or width < 3 or width % 2 == 0:
            raise ValueError('GenerateEdgeFromMask: width must be an odd int '
                             f'>= 3, got {width!r}')
        self.width = int(width)
        self.overwrite = overwrite

    def transform(self, results: dict) -> dict:
        if results.get('gt_edge_map') is not None and not self.overwrite:
            return results
        mask = results.get('gt_seg_map')
        if mask is None:
            raise KeyError(
                f'GenerateEdgeFromMask: no gt_seg_map for {_name(results)}; '
                'load the mask first (LoadCODAnnotations)')
        results['gt_edge_map'] = mask_boundary(mask, self.width)
        seg_fields = results.setdefault('seg_fields', [])
        if 'gt_edge_map' not in seg_fields:
            seg_fields.append('gt_edge_map')
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(width={self.width}, '
                f'overwrite={self.overwrite})')


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


# --------------------------------------------------------------------------
# NUN's degradations
# --------------------------------------------------------------------------
# Parameter ranges per level (each drawn uniformly per image). NUN gives no
# values (ANCHORS.md section 6); these are chosen so that `light` is visibly
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


@TRANSFORMS.register_module()
class PackCODInputs(BaseTransform):
    """Pack a COD sample into ``dict(inputs, data_samples)``.

    - ``inputs``: ``torch.float32`` (3, H, W) in [0, 1] (the degraded image
      for degraded data);
    - ``data_samples``: :class:`DunSegDataSample` with ``gt_mask`` and
      ``gt_edge`` (:class:`PixelData` (1, h, w) ``torch.uint8`` in {0, 1}),
      ``gt_image`` (``PixelData`` (3, H, W) float32, the clean image, when
      ``gt_img`` is present) and the ``meta_keys`` present as metainfo
      (``dataset_name``, ``ori_shape``, ``img_path`` ...).

    Masks either match the input size (training) or the original size
    ``ori_shape`` (test pipelines that load annotations after the resize);
    anything else is an error.

    Args:
        meta_keys (Sequence[str]): Result keys copied to the metainfo.
    """

    def __init__(self, meta_keys: Sequence[str] = COD_META_KEYS) -> None:
        self.meta_keys = tuple(meta_keys)

    @staticmethod
    def _image(img, key: str, results: dict) -> torch.Tensor:
        if not isinstance(img, np.ndarray) or img.ndim != 3:
            raise ValueError(
                f'PackCODInputs: results[{key!r}] of {_name(results)} must be '
                'an (H, W, C) array, got '
                f'{getattr(img, "shape", type(img).__name__)}')
        if not np.issubdtype(img.dtype, np.floating):
            raise TypeError(
                f'PackCODInputs: results[{key!r}] of {_name(results)} is '
                f'{img.dtype}; expected float32 in [0, 1] (load with '
                "LoadCODImageFromFile, not mmcv's LoadImageFromFile)")
        check_finite_image(img, results.get('img_path'),
                           f'PackCODInputs: {key} of')
        return torch.from_numpy(
            np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32))

    @staticmethod
    def _map(arr, key: str, results: dict,
             input_hw: Tuple[int, int]) -> PixelData:
        arr = np.asarray(arr)
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[..., 0]
        allowed = {tuple(input_hw)}
        if results.get('ori_shape') is not None:
            allowed.add(tuple(results['ori_shape'][:2]))
        if tuple(arr.shape) not in allowed:
            raise ValueError(
                f'PackCODInputs: {key} of {_name(results)} has shape '
                f'{arr.shape}, but the image is {tuple(input_hw)} (original '
                f'{results.get("ori_shape")}); a transform changed only one '
                'of them (use the COD transforms)')
        if arr.size and arr.max() > 1:
            raise ValueError(
                f'PackCODInputs: {key} of {_name(results)} has values up to '
                f'{arr.max()}, expected {{0, 1}}; load it with '
                'LoadCODAnnotations, which binarises it')
        return PixelData(data=torch.from_numpy(
            np.ascontiguousarray(arr, dtype=np.uint8)[None]))

    def transform(self, results: dict) -> dict:
        if results.get('img') is None:
            raise KeyError(f'PackCODInputs: no img in the results of '
                           f'{_name(results)}; the pipeline needs '
                           'LoadCODImageFromFile first')
        inputs = self._image(results['img'], 'img', results)
        hw = tuple(inputs.shape[1:])
        sample = DunSegDataSample()
        if results.get('gt_seg_map') is not None:
            sample.gt_mask = self._map(results['gt_seg_map'], 'gt_seg_map',
                                       results, hw)
        if results.get('gt_edge_map') is not None:
            sample.gt_edge = self._map(results['gt_edge_map'], 'gt_edge_map',
                                       results, hw)
        if results.get('gt_img') is not None:
            gt = self._image(results['gt_img'], 'gt_img', results)
            if gt.shape != inputs.shape:
                raise ValueError(
                    f'PackCODInputs: clean image {tuple(gt.shape)} and input '
                    f'{tuple(inputs.shape)} of {_name(results)} differ; a '
                    'transform changed only one of them')
            sample.gt_image = PixelData(data=gt)
        sample.set_metainfo(
            {k: results[k]
             for k in self.meta_keys if k in results})
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'
