"""Transforms of the medical (VL-DUN) pipelines: resize, k-space
undersampling, packing, and the slice loader of inference.

Results contract (set by the medical datasets and the phantom generator):

- ``gt_img``: the clean slice, ``np.float32`` (H, W) in [0, 1] (already
  normalised: CT windowing or MRI percentile scaling);
- ``gt_seg_map``: ``np.uint8`` (H, W) class indices ``0 .. num_classes-1``
  (0 is background);
- ``modality`` (``'CT'`` / ``'MRI'``), ``dataset_name``, ``num_classes``,
  ``classes``, ``img_id`` (unique and stable: it seeds test-split masks).

:class:`KSpaceUndersample` adds ``img`` (the zero-filled undersampled slice,
float32 (H, W), not clipped: clipping would break ``img = AᵀA x``) and
``kspace_mask`` (float32 (H, W) in {0, 1}, DC at the centre). Geometric
transforms (``ResizeMedical``, ``PairedRandomFlipRot`` with
``keys=MEDICAL_KEYS``) must come *before* it: a flipped or resized ``img``
no longer matches its mask, so :class:`ResizeMedical` refuses to run after
it.
"""
from typing import Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData

from dunseg.physics.undersampling import (
    MODALITY_PATTERNS,
    check_modality,
    make_kspace_mask,
    stable_seed,
    zero_filled,
)
from dunseg.registry import TRANSFORMS
from dunseg.structures import DunSegDataSample
from dunseg.utils.finite import check_finite_image

#: Array keys that geometric transforms must move together.
MEDICAL_KEYS = ('gt_img', 'gt_seg_map')
MEDICAL_META_KEYS = ('img_path', 'seg_map_path', 'img_id', 'slice_index',
                     'ori_shape', 'img_shape', 'modality', 'dataset_name',
                     'num_classes', 'classes', 'kspace_pattern',
                     'kspace_acceleration', 'kspace_seed', 'flip',
                     'flip_direction', 'rotation', 'anatomy', 'sample_idx',
                     'seg_labelled')


def _image_id(results: dict) -> str:
    """The id that seeds an image's test mask: ``img_id`` when the dataset
    sets one, else path + slice index."""
    if results.get('img_id') is not None:
        return str(results['img_id'])
    path = results.get('img_path')
    if path is None:
        raise KeyError(
            "KSpaceUndersample(seed=...): the results have neither 'img_id' "
            "nor 'img_path', so no per-image seed can be derived; the "
            'dataset must name its images')
    return f'{path}#{results.get("slice_index", 0)}'


@TRANSFORMS.register_module()
class ResizeMedical(BaseTransform):
    """Resize ``gt_img`` (area when shrinking, bilinear when enlarging) and
    ``gt_seg_map`` (nearest) to ``scale``; without ``gt_img`` (inference on
    an already undersampled slice) the input ``img`` instead.

    With ``keep_ratio=True`` the slice is scaled to fit inside ``scale``
    and zero-padded (background, class 0) symmetrically, so anatomy keeps
    its aspect ratio (ACDC slices are often 216x256).

    Args:
        scale (int | tuple[int, int]): (H, W) of the output.
        keep_ratio (bool): Fit and pad instead of stretching.
    """

    def __init__(self,
                 scale: Union[int, Tuple[int, int]],
                 keep_ratio: bool = False) -> None:
        if isinstance(scale, int):
            scale = (scale, scale)
        if len(scale) != 2 or min(scale) < 1:
            raise ValueError('ResizeMedical: scale must be a positive int or '
                             f'(H, W), got {scale!r}')
        self.scale = (int(scale[0]), int(scale[1]))
        self.keep_ratio = keep_ratio

    def transform(self, results: dict) -> dict:
        if results.get('kspace_mask') is not None:
            raise RuntimeError(
                'ResizeMedical after KSpaceUndersample: the undersampled '
                'image would no longer match its k-space mask; put '
                'ResizeMedical before KSpaceUndersample in the pipeline')
        # Inference reads an already undersampled slice into 'img' (no
        # clean 'gt_img'): the model still needs it at its working size.
        key = 'gt_img' if results.get('gt_img') is not None else 'img'
        if results.get(key) is None:
            raise KeyError("ResizeMedical: no 'gt_img' (nor an inference "
                           f"'img') in the results of "
                           f'{results.get("img_path")!r}')
        img = results[key]
        h, w = img.shape[:2]
        th, tw = self.scale
        if self.keep_ratio:
            ratio = min(th / h, tw / w)
            nh, nw = max(1, round(h * ratio)), max(1, round(w * ratio))
        else:
            nh, nw = th, tw
        interp = cv2.INTER_AREA if nh * nw < h * w else cv2.INTER_LINEAR
        img = cv2.resize(img, (nw, nh), interpolation=interp)
        seg = results.get('gt_seg_map')
        if seg is not None:
            seg = cv2.resize(np.ascontiguousarray(seg, np.uint8), (nw, nh),
                             interpolation=cv2.INTER_NEAREST)
        if (nh, nw) != (th, tw):
            top, left = (th - nh) // 2, (tw - nw) // 2
            pad = ((top, th - nh - top), (left, tw - nw - left))
            img = np.pad(img, pad)
            if seg is not None:
                seg = np.pad(seg, pad)
        results[key] = np.ascontiguousarray(img, np.float32)
        if seg is not None:
            results['gt_seg_map'] = seg
        results['img_shape'] = (th, tw)
        results['scale_factor'] = (nw / w, nh / h)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(scale={self.scale}, '
                f'keep_ratio={self.keep_ratio})')


@TRANSFORMS.register_module()
class KSpaceUndersample(BaseTransform):
    """VL-DUN's degradation ``y = Re F⁻¹(M ⊙ F x)`` of the clean slice.

    ``M`` is radial for CT (sparse-view) and Cartesian for MRI
    (accelerated), built by :func:`dunseg.physics.undersampling.
    make_kspace_mask`; ``y`` is computed with :class:`dunseg.physics.
    KSpaceMask`, the operator a model's data term rebuilds from the stored
    mask (:func:`~dunseg.physics.undersampling.kspace_operator_from_masks`).

    Randomness: with ``seed`` set, each image gets the fixed mask seed
    ``stable_seed(seed, img_id)`` (test splits: the same masks in every run,
    process and worker); with ``seed=None`` a new mask is drawn every time
    from NumPy's global state (training; reproducible under MMEngine's
    ``randomness.seed``). The mask seed is stored either way
    (``kspace_seed``), so ``make_kspace_mask`` with the stored settings
    rebuilds the mask.

    Added keys: ``img`` (float32 (H, W)), ``kspace_mask`` (float32 (H, W),
    centred), ``kspace_pattern`` (``'radial'``/``'cartesian'``),
    ``kspace_acceleration`` (``H·W / ΣM`` of this mask), ``kspace_seed``,
    ``modality`` (when the results have none).

    Args:
        modality (str): ``'auto'`` (read ``results['modality']``), ``'CT'``
            or ``'MRI'``.
        acceleration (float): MRI undersampling factor (``W`` / sampled
            columns); CT too when ``num_spokes`` is None (fewest spokes
            sampling at least ``1 / acceleration`` of k-space). VL-DUN does
            not state its factors; 4 is the common accelerated-MRI setting.
        num_spokes (int, optional): CT: fixed number of radial spokes
            (views over 180°) instead of a target acceleration.
        center_fraction (float): MRI: fully sampled central columns.
        pattern (str): MRI column pattern, ``'random'`` or ``'equispaced'``.
        golden_angle (bool): CT: golden-angle spokes.
        seed (int, optional): Base seed for fixed per-image masks.
        random_pattern (bool): Draw the pattern (radial or Cartesian) per
            image from its mask seed instead of from the modality, so that a
            prior trained on the samples must read the pattern from the
            image (the slice's ``modality`` is kept).

    Inference (:func:`dunseg.apis.inference_model`) drops it
    (``skip_at_inference``): a file given to a model is the already
    undersampled slice, and undersampling it again would degrade it twice.
    """

    #: Makes the degraded input from the clean slice: not run on inputs
    #: that are already degraded (see dunseg.apis.inference).
    skip_at_inference = True

    def __init__(self,
                 modality: str = 'auto',
                 acceleration: float = 4.0,
                 num_spokes: Optional[int] = None,
                 center_fraction: float = 0.08,
                 pattern: str = 'random',
                 golden_angle: bool = False,
                 seed: Optional[int] = None,
                 random_pattern: bool = False) -> None:
        if modality != 'auto':
            modality = check_modality(modality, 'KSpaceUndersample')
        if acceleration is None or acceleration < 1:
            raise ValueError('KSpaceUndersample: acceleration must be >= 1, '
                             f'got {acceleration!r}')
        if num_spokes is not None and int(num_spokes) < 1:
            raise ValueError('KSpaceUndersample: num_spokes must be >= 1, '
                             f'got {num_spokes!r}')
        if not 0.0 <= center_fraction < 1.0:
            raise ValueError('KSpaceUndersample: center_fraction must be in '
                             f'[0, 1), got {center_fraction!r}')
        if pattern not in ('random', 'equispaced'):
            raise ValueError("KSpaceUndersample: pattern must be 'random' or "
                             f"'equispaced', got {pattern!r}")
        self.modality = modality
        self.acceleration = float(acceleration)
        self.num_spokes = None if num_spokes is None else int(num_spokes)
        self.center_fraction = float(center_fraction)
        self.pattern = pattern
        self.golden_angle = golden_angle
        self.seed = seed
        self.random_pattern = bool(random_pattern)

    def mask_seed(self, results: dict) -> int:
        """The mask seed of this image (see the class docstring)."""
        if self.seed is not None:
            return stable_seed(int(self.seed), _image_id(results))
        return int(np.random.randint(0, 2**31 - 1))

    def transform(self, results: dict) -> dict:
        clean = results.get('gt_img')
        if clean is None:
            raise KeyError("KSpaceUndersample: no clean slice 'gt_img' in the "
                           f'results of {results.get("img_path")!r}; the '
                           'dataset must provide it')
        clean = np.asarray(clean)
        if clean.ndim == 3 and clean.shape[2] == 1:
            clean = clean[..., 0]
        if clean.ndim != 2:
            raise ValueError(
                f'KSpaceUndersample: gt_img of {results.get("img_path")!r} '
                f'has shape {clean.shape}; expected a grey (H, W) slice')
        if self.modality == 'auto':
            if results.get('modality') is None:
                raise KeyError(
                    "KSpaceUndersample(modality='auto'): the results of "
                    f'{results.get("img_path")!r} have no modality; use a '
                    "medical dataset or set modality='CT'/'MRI'")
            modality = check_modality(results['modality'],
                                      'KSpaceUndersample')
        else:
            modality = self.modality
        seed = self.mask_seed(results)
        if self.random_pattern:
            # the pattern follows from the stored seed, so it is rebuilt too
            drawn = np.random.default_rng([seed, 1]).integers(2)
            results.setdefault('modality', modality)
            modality = ('CT', 'MRI')[int(drawn)]
        mask = make_kspace_mask(modality, clean.shape, self.acceleration,
                                self.num_spokes, self.center_fraction,
                                self.pattern, self.golden_angle, seed)
        results['img'] = zero_filled(clean, mask)
        results['kspace_mask'] = mask
        results['kspace_pattern'] = MODALITY_PATTERNS[modality]
        results['kspace_acceleration'] = float(mask.size / max(mask.sum(), 1))
        results['kspace_seed'] = seed
        # a forced pattern does not change what the image is
        results.setdefault('modality', modality)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(modality={self.modality!r}, '
                f'acceleration={self.acceleration}, num_spokes='
                f'{self.num_spokes}, center_fraction={self.center_fraction}, '
                f'seed={self.seed}, random_pattern={self.random_pattern})')


@TRANSFORMS.register_module()
class LoadMedicalSliceFromFile(BaseTransform):
    """Read one grey slice (PNG/TIFF/JPEG, ``.npy``, DICOM, NIfTI) into
    ``results[key]`` as float32 (H, W) in [0, 1]
    (:func:`dunseg.datasets.medical.read_medical_slice`: DICOM rescaled and
    CT-windowed / percentile-scaled by its ``Modality`` tag, volumes
    normalised as the datasets normalise them).

    The inference loader of medical pipelines: ``key='img'`` for a slice
    that is already undersampled (what the model restores), ``'gt_img'``
    for a clean slice that a following :class:`KSpaceUndersample`
    degrades.

    Required keys: ``img_path``; optional ``slice_index`` (a volume's
    slice, default the middle one), ``modality``.

    Added keys: ``key``, ``img_shape``, ``ori_shape``, ``slice_index``,
    ``num_slices`` and ``modality`` when the file names it (DICOM) or
    ``modality`` is given.

    Args:
        key (str): ``'img'`` or ``'gt_img'``.
        modality (str, optional): ``'CT'`` / ``'MRI'``, chooses the
            normalisation of physical values (overrides the file's tag).
        slice_index (int, optional): Default slice of volumes.
        ct_window, mri_percentiles: See :func:`~dunseg.datasets.medical.
            normalise_volume`.
    """

    def __init__(self,
                 key: str = 'img',
                 modality: Optional[str] = None,
                 slice_index: Optional[int] = None,
                 ct_window: Tuple[float, float] = (40.0, 400.0),
                 mri_percentiles: Tuple[float, float] = (0.5, 99.5)) -> None:
        if key not in ('img', 'gt_img'):
            raise ValueError("LoadMedicalSliceFromFile: key must be 'img' "
                             f"(degraded input) or 'gt_img', got {key!r}")
        self.key = key
        self.modality = (None if modality is None else check_modality(
            modality, 'LoadMedicalSliceFromFile'))
        self.slice_index = slice_index
        self.ct_window = tuple(ct_window)
        self.mri_percentiles = tuple(mri_percentiles)

    def transform(self, results: dict) -> dict:
        from ..medical import read_medical_slice
        path = results.get('img_path')
        if path is None:
            raise KeyError(
                "LoadMedicalSliceFromFile needs results['img_path']")
        index = results.get('slice_index', self.slice_index)
        out = read_medical_slice(
            str(path), index, self.modality or results.get('modality'),
            self.ct_window, self.mri_percentiles)
        img = out['img']
        results[self.key] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        results['slice_index'] = out['slice_index']
        results['num_slices'] = out['num_slices']
        if out['modality'] is not None:
            results['modality'] = out['modality']
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(key={self.key!r}, modality='
                f'{self.modality!r}, slice_index={self.slice_index})')


@TRANSFORMS.register_module()
class PackMedicalInputs(BaseTransform):
    """Pack a medical sample into ``dict(inputs, data_samples)``.

    - ``inputs``: the undersampled (zero-filled) slice ``img``,
      ``torch.float32`` (1, H, W);
    - ``data_samples``: :class:`DunSegDataSample` with

      - ``gt_image``: clean slice, (1, H, W) float32;
      - ``gt_mask``: (1, H, W) ``torch.uint8`` **class indices** 0 .. C-1
        (binary for ISTD/COD, multi-class here: ACDC 0 background, 1 RV,
        2 myocardium, 3 LV);
      - ``kspace_mask``: (1, H, W) float32 in {0, 1}, centred; the batch's
        operator is ``kspace_operator_from_masks(data_samples)``;
      - metainfo: ``modality``, ``dataset_name``, ``num_classes`` (always
        with ground truth: the metric and the label spaces need them) and
        the other ``meta_keys`` present.

    An inference sample (an already degraded slice from a file, no
    ``gt_img`` / ``gt_seg_map``) needs only ``img``; its loader is
    ``inference_loader``.

    Args:
        meta_keys (Sequence[str]): Result keys copied to the metainfo.
    """

    REQUIRED_META = ('modality', 'dataset_name', 'num_classes')
    #: How dunseg.apis.inference reads a file for this packer.
    inference_loader = dict(type='LoadMedicalSliceFromFile')

    def __init__(self,
                 meta_keys: Sequence[str] = MEDICAL_META_KEYS) -> None:
        self.meta_keys = tuple(meta_keys)

    @staticmethod
    def _slice(array, key: str, path) -> np.ndarray:
        array = np.asarray(array)
        if array.ndim == 3 and array.shape[2] == 1:
            array = array[..., 0]
        if array.ndim != 2:
            raise ValueError(
                f'PackMedicalInputs: results[{key!r}] of {path!r} has shape '
                f'{array.shape}; expected an (H, W) slice')
        return array

    def _float(self, array, key: str, path) -> torch.Tensor:
        array = self._slice(array, key, path)
        if not np.issubdtype(array.dtype, np.floating):
            raise TypeError(
                f'PackMedicalInputs: results[{key!r}] of {path!r} is '
                f'{array.dtype}; expected float32 (a medical dataset '
                'normalises slices to [0, 1])')
        check_finite_image(array, path, f'PackMedicalInputs: {key} of')
        return torch.from_numpy(
            np.ascontiguousarray(array, dtype=np.float32)[None])

    def transform(self, results: dict) -> dict:
        path = results.get('img_id') or results.get('img_path')
        if results.get('img') is None:
            raise KeyError(
                f"PackMedicalInputs: no undersampled slice 'img' for "
                f'{path!r}; add KSpaceUndersample before PackMedicalInputs')
        has_gt = any(results.get(k) is not None
                     for k in ('gt_img', 'gt_seg_map'))
        missing = [k for k in self.REQUIRED_META if results.get(k) is None]
        if missing and has_gt:
            raise KeyError(
                f'PackMedicalInputs: the results of {path!r} lack {missing}; '
                'medical datasets set them (a custom dataset must add '
                'modality, dataset_name and num_classes to every sample)')
        inputs = self._float(results['img'], 'img', path)
        shape = tuple(inputs.shape[1:])
        sample = DunSegDataSample()
        arrays = dict(gt_img=None, gt_seg_map=None, kspace_mask=None)
        for key in arrays:
            if results.get(key) is None:
                continue
            value = self._slice(results[key], key, path)
            if value.shape != shape:
                raise ValueError(
                    f'PackMedicalInputs: results[{key!r}] of {path!r} is '
                    f'{value.shape} but the undersampled image is {shape}; '
                    'geometric transforms must come before '
                    'KSpaceUndersample and move gt_img and gt_seg_map '
                    'together')
        if results.get('gt_img') is not None:
            sample.gt_image = PixelData(
                data=self._float(results['gt_img'], 'gt_img', path))
        if results.get('gt_seg_map') is not None:
            seg = self._slice(results['gt_seg_map'], 'gt_seg_map', path)
            num_classes = int(results['num_classes'])
            if seg.size and (seg.min() < 0 or seg.max() >= num_classes):
                raise ValueError(
                    f'PackMedicalInputs: gt_seg_map of {path!r} holds '
                    f'labels {sorted(np.unique(seg).tolist())[:8]} but '
                    f'num_classes is {num_classes}; map the dataset\'s '
                    'label values to 0 .. num_classes-1')
            sample.gt_mask = PixelData(data=torch.from_numpy(
                np.ascontiguousarray(seg, dtype=np.uint8)[None]))
        if results.get('kspace_mask') is not None:
            sample.kspace_mask = PixelData(
                data=self._float(results['kspace_mask'], 'kspace_mask', path))
        sample.set_metainfo(
            {k: results[k]
             for k in self.meta_keys if results.get(k) is not None})
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'


__all__ = [
    'ResizeMedical', 'KSpaceUndersample', 'LoadMedicalSliceFromFile',
    'PackMedicalInputs', 'MEDICAL_KEYS', 'MEDICAL_META_KEYS'
]
