"""Geometric transforms for ISTD images that keep the grey channel axis.

Flips: mmcv's ``RandomFlip`` (registered in MMEngine's root ``TRANSFORMS``,
reachable as ``type='RandomFlip'`` from dunseg configs) flips with
``np.flip``, which keeps the (H, W, 1) shape of grey images and also flips
``gt_seg_map``, so dunseg does not define its own flip. Independent
horizontal and vertical flips with probability 0.5 each (the official
SIRST-Aug recipe) are the same distribution as one ``RandomFlip`` with
``prob=[0.25, 0.25, 0.25]`` and ``direction=['horizontal', 'vertical',
'diagonal']``, and the single transform records the combined direction in
``flip_direction``.

Resize: mmcv's ``Resize`` goes through ``cv2.resize``, which turns an
(H, W, 1) image into (H, W); :class:`ResizeISTD` restores the axis.
"""
from typing import Sequence, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from dunseg.registry import TRANSFORMS

_CV2_INTERPOLATIONS = {
    'nearest': cv2.INTER_NEAREST,
    'bilinear': cv2.INTER_LINEAR,
    'bicubic': cv2.INTER_CUBIC,
    'area': cv2.INTER_AREA,
}


def _check_image(results: dict, transform_name: str) -> np.ndarray:
    img = results.get('img')
    if not isinstance(img, np.ndarray) or img.ndim != 3:
        shape = getattr(img, 'shape', None)
        raise ValueError(
            f"{transform_name} expects results['img'] to be an (H, W, C) "
            f'array, got {type(img).__name__} with shape {shape} for '
            f'{results.get("img_path")!r}; load images with '
            'LoadISTDImageFromFile, which always keeps the channel axis')
    return img


@TRANSFORMS.register_module()
class ResizeISTD(BaseTransform):
    """Resize image and mask to a fixed size, keeping the channel axis.

    The image is resized with ``interpolation`` (bilinear by default, as in
    the official RPCANet code) and ``gt_seg_map`` with nearest neighbour, so
    the mask stays binary. The image's dtype and channel count are kept.

    Required keys: ``img``. Optional: ``gt_seg_map``.

    Modified keys: ``img``, ``img_shape``, ``gt_seg_map``.

    Added keys: ``scale`` ((W, H)), ``scale_factor`` ((w_scale, h_scale)),
    ``keep_ratio`` (always False).

    Args:
        scale (tuple[int, int]): Output size as (W, H), mmcv's convention.
        interpolation (str): Image interpolation: ``'bilinear'`` (default),
            ``'nearest'``, ``'bicubic'`` or ``'area'``.
    """

    def __init__(self,
                 scale: Tuple[int, int],
                 interpolation: str = 'bilinear') -> None:
        if isinstance(scale, int):
            scale = (scale, scale)
        if (not isinstance(scale, Sequence) or len(scale) != 2
                or not all(isinstance(s, int) and s > 0 for s in scale)):
            raise ValueError('ResizeISTD: scale must be two positive ints '
                             f'(W, H), e.g. (256, 256); got {scale!r}')
        if interpolation not in _CV2_INTERPOLATIONS:
            raise ValueError(
                f'ResizeISTD: interpolation must be one of '
                f'{sorted(_CV2_INTERPOLATIONS)}, got {interpolation!r}')
        self.scale = tuple(scale)
        self.interpolation = interpolation

    def transform(self, results: dict) -> dict:
        img = _check_image(results, 'ResizeISTD')
        height, width = img.shape[:2]
        new_w, new_h = self.scale
        if (height, width) != (new_h, new_w):
            resized = cv2.resize(
                img, (new_w, new_h),
                interpolation=_CV2_INTERPOLATIONS[self.interpolation])
            if resized.ndim == 2:
                # cv2 drops a trailing channel axis of size 1.
                resized = resized[..., None]
            img = resized
        results['img'] = img
        results['img_shape'] = img.shape[:2]

        mask = results.get('gt_seg_map')
        if mask is not None and mask.shape[:2] != (new_h, new_w):
            results['gt_seg_map'] = cv2.resize(
                mask, (new_w, new_h), interpolation=cv2.INTER_NEAREST)
        results['scale'] = self.scale
        results['scale_factor'] = (new_w / width, new_h / height)
        results['keep_ratio'] = False
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(scale={self.scale}, '
                f'interpolation={self.interpolation!r})')


@TRANSFORMS.register_module()
class RandomTranspose(BaseTransform):
    """Swap the height and width axes of image and mask with a probability.

    Part of the official SIRST-Aug augmentation (together with horizontal and
    vertical flips, which together generate all 8 rotations/reflections of
    the square). Uses NumPy's global RNG, like mmcv's random transforms, so
    MMEngine's per-worker seeding makes it reproducible.

    Required keys: ``img``. Optional: ``gt_seg_map``.

    Modified keys: ``img``, ``img_shape``, ``gt_seg_map``.

    Added keys: ``transposed`` (bool).

    Args:
        prob (float): Probability of transposing. Defaults to 0.5.
    """

    def __init__(self, prob: float = 0.5) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(
                f'RandomTranspose: prob must be in [0, 1], got {prob}')
        self.prob = prob

    @cache_randomness
    def _do_transpose(self) -> bool:
        return bool(np.random.rand() < self.prob)

    def transform(self, results: dict) -> dict:
        img = _check_image(results, 'RandomTranspose')
        transposed = self._do_transpose()
        if transposed:
            # Copy so later transforms and torch.from_numpy get contiguous
            # memory instead of a strided view.
            results['img'] = np.ascontiguousarray(img.transpose(1, 0, 2))
            results['img_shape'] = results['img'].shape[:2]
            if results.get('gt_seg_map') is not None:
                results['gt_seg_map'] = np.ascontiguousarray(
                    results['gt_seg_map'].T)
        results['transposed'] = transposed
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob})'
