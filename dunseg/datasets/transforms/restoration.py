"""Transforms for paired (degraded, clean) image restoration pipelines.

Results contract established by :class:`LoadPairedImageFromFile` (or by a
dataset that generates images, e.g. ``SyntheticDegradationDataset``) and
kept by every transform here:

- ``img``: degraded image, ``np.float32`` (H, W, 3) RGB in [0, 1];
- ``gt_img``: clean image, same shape and type;
- ``img_shape`` / ``ori_shape``: (H, W).

Geometric transforms apply the *same* crop / flip / rotation to every image
key present, so the pair stays aligned. A sample may hold only ``gt_img``
(clean-only noise data); :class:`Degrade` then synthesises ``img``.
"""
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData

from dunseg.physics.synthesizers import SYNTHESIZABLE, synthesize
from dunseg.registry import TRANSFORMS
from dunseg.structures import DunSegDataSample
from dunseg.utils.finite import check_finite_image

from ..degradation_types import DEGRADATIONS_5TASK, degradation_label
from .loading import decode_image_unchanged, unit_float_reported_once

IMAGE_KEYS = ('img', 'gt_img')
RESTORATION_META_KEYS = ('img_path', 'gt_path', 'ori_shape', 'img_shape',
                         'degradation', 'degradation_label', 'flip',
                         'flip_direction', 'rotation', 'seed', 'dataset_name',
                         'sample_idx')


def _present(results: dict, keys: Sequence[str], who: str) -> list:
    present = [k for k in keys if results.get(k) is not None]
    if not present:
        raise KeyError(
            f'{who}: none of {tuple(keys)} is in the results '
            f'of {results.get("img_path") or results.get("gt_path")!r}; '
            'load the images first (LoadPairedImageFromFile)')
    return present


def _same_size(results: dict, keys: Sequence[str],
               who: str) -> Tuple[int, int]:
    shapes = {k: results[k].shape[:2] for k in keys}
    if len(set(shapes.values())) > 1:
        raise ValueError(
            f'{who}: the paired images have different sizes {shapes} '
            f'({results.get("img_path")!r} vs {results.get("gt_path")!r}); '
            "LoadPairedImageFromFile(size_mismatch='crop') crops them to "
            'their common size')
    return next(iter(shapes.values()))


def to_rgb_float(img: np.ndarray, path: str) -> np.ndarray:
    """OpenCV-decoded array (grey / BGR / BGRA, 8 or 16 bit) -> RGB float32
    (H, W, 3) in [0, 1]."""
    if img.dtype == np.uint8:
        scale = 255.0
    elif img.dtype == np.uint16:
        img = unit_float_reported_once(img, path, 'LoadPairedImageFromFile')
        scale = 1.0
    elif np.issubdtype(img.dtype, np.floating):
        scale = 1.0
        check_finite_image(img, path)
        lo, hi = float(img.min()), float(img.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f'floating-point image {path!r} has values in [{lo:g}, '
                f'{hi:g}], outside [0, 1]; rescale it to [0, 1] or save it '
                'as an 8/16-bit PNG')
    else:
        raise TypeError(f'unsupported image dtype {img.dtype} in {path!r}; '
                        'expected 8/16-bit integer or float images')
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    elif img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    elif img.shape[2] == 4:
        img = img[..., 2::-1]  # BGRA -> RGB, alpha dropped
    elif img.shape[2] == 3:
        img = img[..., ::-1]
    else:
        raise ValueError(f'{path!r} has {img.shape[2]} channels; expected '
                         '1, 3 or 4')
    return np.ascontiguousarray(img, dtype=np.float32) / np.float32(scale)


@TRANSFORMS.register_module()
class LoadPairedImageFromFile(BaseTransform):
    """Load the degraded (``img_path``) and clean (``gt_path``) images.

    Both are decoded with OpenCV (keeping 16-bit depth) and converted to RGB
    float32 (H, W, 3) in [0, 1] (grey images are repeated to 3 channels,
    alpha is dropped). A ``None`` path is skipped (clean-only samples have
    no ``img_path``; test images without ground truth have no
    ``gt_path``).

    Added keys: ``img``, ``gt_img`` (when the path is given), ``img_shape``,
    ``ori_shape``.

    Args:
        size_mismatch (str): What to do when both images exist with
            different sizes: ``'error'`` (default) or ``'crop'`` (crop both
            to their common top-left region; some public copies of the
            test sets differ by a pixel).
        backend_args (dict, optional): mmengine file-backend arguments.
    """

    def __init__(self,
                 size_mismatch: str = 'error',
                 backend_args: Optional[dict] = None) -> None:
        if size_mismatch not in ('error', 'crop'):
            raise ValueError("LoadPairedImageFromFile: size_mismatch must be "
                             f"'error' or 'crop', got {size_mismatch!r}")
        self.size_mismatch = size_mismatch
        self.backend_args = backend_args

    def _load(self, path: str, what: str) -> np.ndarray:
        return to_rgb_float(
            decode_image_unchanged(path, self.backend_args, what), path)

    def transform(self, results: dict) -> dict:
        img_path, gt_path = results.get('img_path'), results.get('gt_path')
        if img_path is None and gt_path is None:
            raise KeyError('LoadPairedImageFromFile: the sample has neither '
                           "'img_path' nor 'gt_path'")
        if img_path is not None:
            results['img'] = self._load(img_path, 'degraded image')
        if gt_path is not None:
            results['gt_img'] = self._load(gt_path, 'clean (ground-truth) '
                                           'image')
        keys = _present(results, IMAGE_KEYS, type(self).__name__)
        if len(keys) == 2 and results['img'].shape != results['gt_img'].shape:
            if self.size_mismatch == 'error':
                raise ValueError(
                    f'LoadPairedImageFromFile: degraded image {img_path!r} '
                    f'is {results["img"].shape[:2]} but the clean image '
                    f'{gt_path!r} is {results["gt_img"].shape[:2]}; fix the '
                    "pairing or use size_mismatch='crop'")
            h = min(results['img'].shape[0], results['gt_img'].shape[0])
            w = min(results['img'].shape[1], results['gt_img'].shape[1])
            for k in keys:
                results[k] = results[k][:h, :w]
        shape = results[keys[0]].shape[:2]
        results['img_shape'] = shape
        results['ori_shape'] = shape
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(size_mismatch='
                f'{self.size_mismatch!r})')


@TRANSFORMS.register_module()
class PairedRandomCrop(BaseTransform):
    """Crop the same random ``crop_size`` window from every image key.

    Args:
        crop_size (int | tuple[int, int]): (H, W) of the crop (128 in the
            official VLU-Net / PromptIR recipes).
        keys (Sequence[str]): Image keys to crop (missing ones are skipped).
    """

    def __init__(self,
                 crop_size: Union[int, Tuple[int, int]],
                 keys: Sequence[str] = IMAGE_KEYS) -> None:
        if isinstance(crop_size, int):
            crop_size = (crop_size, crop_size)
        if len(crop_size) != 2 or min(crop_size) < 1:
            raise ValueError('PairedRandomCrop: crop_size must be a positive '
                             f'int or (H, W), got {crop_size!r}')
        self.crop_size = (int(crop_size[0]), int(crop_size[1]))
        self.keys = tuple(keys)

    def transform(self, results: dict) -> dict:
        keys = _present(results, self.keys, type(self).__name__)
        h, w = _same_size(results, keys, type(self).__name__)
        ch, cw = self.crop_size
        if h < ch or w < cw:
            name = results.get('img_path') or results.get('gt_path')
            raise ValueError(
                f'PairedRandomCrop: image {name!r} is {h}x{w}, smaller than '
                f'the crop {ch}x{cw}; use a smaller crop_size or drop/upscale '
                'small images')
        top = np.random.randint(0, h - ch + 1)
        left = np.random.randint(0, w - cw + 1)
        for k in keys:
            results[k] = results[k][top:top + ch, left:left + cw]
        results['img_shape'] = (ch, cw)
        results['crop_bbox'] = (top, left, top + ch, left + cw)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(crop_size={self.crop_size})'


def flip_rot(img: np.ndarray, mode: int) -> np.ndarray:
    """Official ``data_augmentation(image, mode)`` of PromptIR / VLU-Net.

    ``k = mode // 2`` counter-clockwise quarter turns (``np.rot90`` over the
    spatial axes), then an up-down flip when ``mode`` is odd: 0 identity,
    1 flip, 2 rot90, 3 rot90+flip, 4 rot180, 5 rot180+flip, 6 rot270,
    7 rot270+flip.
    """
    if not 0 <= mode <= 7:
        raise ValueError(f'flip_rot: mode must be in [0, 7], got {mode}')
    out = np.rot90(img, k=mode // 2, axes=(0, 1))
    if mode % 2:
        out = np.flipud(out)
    return np.ascontiguousarray(out)


@TRANSFORMS.register_module()
class PairedRandomFlipRot(BaseTransform):
    """Apply one random flip/rot90 mode identically to every image key.

    The official recipe (``random_augmentation``) draws the mode uniformly
    from 1-7, i.e. never the identity; ``include_identity=True`` draws from
    all 8 dihedral modes instead.

    Added keys: ``flip`` (bool, up-down flip after the rotation),
    ``flip_direction`` (``'vertical'`` or None), ``rotation`` (degrees
    counter-clockwise: 0/90/180/270), ``flip_rot_mode`` (0-7).

    Args:
        include_identity (bool): Whether mode 0 can be drawn. Defaults to
            False (official).
        keys (Sequence[str]): Image keys (missing ones are skipped).
    """

    def __init__(self,
                 include_identity: bool = False,
                 keys: Sequence[str] = IMAGE_KEYS) -> None:
        self.include_identity = include_identity
        self.keys = tuple(keys)

    def transform(self, results: dict) -> dict:
        keys = _present(results, self.keys, type(self).__name__)
        _same_size(results, keys, type(self).__name__)
        mode = int(np.random.randint(0 if self.include_identity else 1, 8))
        for k in keys:
            results[k] = flip_rot(results[k], mode)
        results['img_shape'] = results[keys[0]].shape[:2]
        results['flip'] = bool(mode % 2)
        results['flip_direction'] = 'vertical' if mode % 2 else None
        results['rotation'] = 90 * (mode // 2)
        results['flip_rot_mode'] = mode
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(include_identity='
                f'{self.include_identity})')


@TRANSFORMS.register_module()
class CenterCropToMultiple(BaseTransform):
    """Centre-crop every image key to a multiple of ``base`` (official
    ``crop_img``: the ``h % base`` surplus rows are removed ``surplus // 2``
    at the top and the rest at the bottom; likewise for columns).

    481x321 BSD68 images become 480x320 with ``base=16``.
    """

    def __init__(self,
                 base: int = 16,
                 keys: Sequence[str] = IMAGE_KEYS) -> None:
        if int(base) != base or base < 1:
            raise ValueError('CenterCropToMultiple: base must be a positive '
                             f'int, got {base!r}')
        self.base = int(base)
        self.keys = tuple(keys)

    def transform(self, results: dict) -> dict:
        keys = _present(results, self.keys, type(self).__name__)
        h, w = _same_size(results, keys, type(self).__name__)
        if h < self.base or w < self.base:
            name = results.get('img_path') or results.get('gt_path')
            raise ValueError(
                f'CenterCropToMultiple: image {name!r} is {h}x{w}, smaller '
                f'than base={self.base}')
        dh, dw = h % self.base, w % self.base
        top, left = dh // 2, dw // 2
        for k in keys:
            results[k] = results[k][top:h - dh + top, left:w - dw + left]
        results['img_shape'] = (h - dh, w - dw)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(base={self.base})'


@TRANSFORMS.register_module()
class Degrade(BaseTransform):
    """Synthesise the degraded ``img`` from the clean ``gt_img``.

    The model is :func:`dunseg.physics.synthesize` (noise σ 15/25/50, haze,
    rain, blur, low light, JPEG). Which degradation:

    1. ``degradation`` if given (fixed);
    2. else ``results['degradation']`` (set by the dataset, e.g. the noise
       samples of ``AllInOneRestorationDataset``);
    3. else one drawn uniformly from ``degradations``.

    Randomness: ``np.random.default_rng([seed, results['seed']])`` when the
    results carry a ``seed`` (deterministic test sets); else
    ``default_rng([seed, results['sample_idx']])`` when ``seed`` is given
    (same degradation for a sample every epoch); else a seed drawn from
    NumPy's global state (new noise every epoch, like PromptIR's on-the-fly
    noise, reproducible under MMEngine's ``randomness.seed``).

    Added keys: ``img``, ``degradation``, ``degradation_label`` (index in
    ``degradation_classes``, or in ``results['degradation_classes']``, or in
    ``DEGRADATIONS_5TASK``).

    Args:
        degradation (str, optional): Fixed degradation name.
        degradations (Sequence[str], optional): Names to draw from.
        params (dict, optional): Per-degradation overrides passed to
            :func:`~dunseg.physics.synthesize`.
        seed (int, optional): Base seed (see above).
        degradation_classes (Sequence[str], optional): Label vocabulary.
        skip_if_degraded (bool): Leave samples that already have an
            ``img`` (real degraded/clean pairs) untouched. Defaults to True.
    """

    def __init__(self,
                 degradation: Optional[str] = None,
                 degradations: Optional[Sequence[str]] = None,
                 params: Optional[dict] = None,
                 seed: Optional[int] = None,
                 degradation_classes: Optional[Sequence[str]] = None,
                 skip_if_degraded: bool = True) -> None:
        names = ([degradation] if degradation else []) + list(degradations
                                                              or [])
        unknown = [n for n in names if n not in SYNTHESIZABLE]
        if unknown:
            raise KeyError(f'Degrade: unknown degradation(s) {unknown}; '
                           f'expected names from {SYNTHESIZABLE}')
        self.degradation = degradation
        self.degradations = tuple(degradations or ())
        self.params = params or {}
        self.seed = seed
        self.degradation_classes = (tuple(degradation_classes)
                                    if degradation_classes else None)
        self.skip_if_degraded = skip_if_degraded

    def _rng(self, results: dict) -> np.random.Generator:
        base = [] if self.seed is None else [int(self.seed)]
        if results.get('seed') is not None:
            return np.random.default_rng(base + [int(results['seed'])])
        if self.seed is not None and results.get('sample_idx') is not None:
            return np.random.default_rng(base + [int(results['sample_idx'])])
        # Drawn from NumPy's global state, which MMEngine seeds per worker:
        # new noise every epoch, yet reproducible with a fixed seed.
        return np.random.default_rng(np.random.randint(0, 2**31 - 1))

    def transform(self, results: dict) -> dict:
        if self.skip_if_degraded and results.get('img') is not None:
            return results
        if results.get('gt_img') is None:
            raise KeyError(
                "Degrade: no clean image 'gt_img' in the results of "
                f'{results.get("gt_path")!r}; load it first '
                '(LoadPairedImageFromFile with a gt_path)')
        rng = self._rng(results)
        name = self.degradation or results.get('degradation')
        if name is None:
            if not self.degradations:
                raise KeyError(
                    'Degrade: no degradation given; set degradation=..., '
                    "degradations=[...] or results['degradation']")
            name = self.degradations[int(rng.integers(len(self.degradations)))]
        results['img'] = synthesize(results['gt_img'], name, rng, self.params)
        results['degradation'] = name
        classes = (self.degradation_classes
                   or results.get('degradation_classes') or DEGRADATIONS_5TASK)
        results['degradation_label'] = degradation_label(name, classes)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(degradation={self.degradation!r}, '
                f'degradations={self.degradations}, seed={self.seed})')


@TRANSFORMS.register_module()
class PackRestorationInputs(BaseTransform):
    """Pack a restoration sample into ``dict(inputs, data_samples)``.

    - ``inputs``: degraded image, ``torch.float32`` (3, H, W) in [0, 1];
    - ``data_samples``: :class:`DunSegDataSample` with ``gt_image =
      PixelData(data=clean (3, H, W) float32)`` when ``gt_img`` is present,
      and the ``meta_keys`` present in the results as meta information
      (``degradation``, ``degradation_label`` ...).

    Args:
        meta_keys (Sequence[str]): Result keys copied to the metainfo.
    """

    def __init__(self,
                 meta_keys: Sequence[str] = RESTORATION_META_KEYS) -> None:
        self.meta_keys = tuple(meta_keys)

    @staticmethod
    def _to_tensor(img, key: str, path) -> torch.Tensor:
        if not isinstance(img, np.ndarray) or img.ndim != 3:
            raise ValueError(
                f'PackRestorationInputs: results[{key!r}] of {path!r} must '
                'be an (H, W, C) numpy array, got '
                f'{getattr(img, "shape", type(img).__name__)}')
        if not np.issubdtype(img.dtype, np.floating):
            raise TypeError(
                f'PackRestorationInputs: results[{key!r}] of {path!r} is '
                f'{img.dtype}; expected float32 in [0, 1] (load with '
                'LoadPairedImageFromFile)')
        check_finite_image(img, path, f'PackRestorationInputs: {key} of')
        return torch.from_numpy(
            np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32))

    def transform(self, results: dict) -> dict:
        path = results.get('img_path') or results.get('gt_path')
        if results.get('img') is None:
            raise KeyError(
                f"PackRestorationInputs: no degraded image 'img' for "
                f'{path!r}; load it (LoadPairedImageFromFile) or synthesise '
                'it (Degrade) before packing')
        inputs = self._to_tensor(results['img'], 'img', path)
        data_sample = DunSegDataSample()
        if results.get('gt_img') is not None:
            gt = self._to_tensor(results['gt_img'], 'gt_img', path)
            if gt.shape != inputs.shape:
                raise ValueError(
                    f'PackRestorationInputs: clean image {tuple(gt.shape)} '
                    f'and degraded image {tuple(inputs.shape)} of {path!r} '
                    'differ; a transform changed only one of them (use the '
                    'Paired* transforms)')
            data_sample.gt_image = PixelData(data=gt)
        data_sample.set_metainfo(
            {k: results[k]
             for k in self.meta_keys if k in results})
        return dict(inputs=inputs, data_samples=data_sample)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'
