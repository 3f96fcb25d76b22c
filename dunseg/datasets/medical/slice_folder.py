"""2-D medical slices stored as image and mask files."""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.dataset import BaseDataset

from dunseg.physics.undersampling import check_modality
from dunseg.registry import DATASETS
from dunseg.utils.finite import check_finite_image

from ..istd import build_pipeline_with_dunseg_registry
from .base import _listed, _MedicalSampleMixin
from .intensity import scale_mri, window_ct
from .readers import has_suffix

#: Slice file endings, matched in any letter case (``c.PNG`` too).
SLICE_SUFFIXES = ('.png', '.npy')


@DATASETS.register_module()
class MedicalSliceFolderDataset(_MedicalSampleMixin, BaseDataset):
    """2-D slices stored as files (IMIS-bench-style exports)::

        <data_root>/<img_dir>/<name>.png|.npy
        <data_root>/<mask_dir>/<name>.png|.npy

    Images and masks pair by file stem. Images: 8/16-bit PNGs are scaled
    by 255/65535; ``.npy`` arrays in [0, 1] are kept, other ``.npy``
    values get the modality's normalisation (CT window when they look like
    HU, percentile scaling otherwise) per slice. Masks hold class indices
    (a 0/255 PNG of a two-class set is read as 0/1); ``label_map`` maps
    other encodings.

    Args:
        data_root (str): Folder holding ``img_dir`` and ``mask_dir``.
        modality (str): ``'CT'`` or ``'MRI'``.
        dataset_name (str): Reported by the metric, seeds test masks.
        classes (Sequence[str]): Class names, background first.
        img_dir, mask_dir (str): Sub-folders.
        ct_window, mri_percentiles: See :class:`MedicalVolumeDataset`.
        label_map (dict, optional): Raw mask value -> class index.
        pipeline (Sequence): Transforms, built with dunseg's registry.
    """

    def __init__(self,
                 data_root: str = '',
                 modality: str = '',
                 dataset_name: str = '',
                 classes: Sequence[str] = ('background', 'foreground'),
                 img_dir: str = 'images',
                 mask_dir: str = 'masks',
                 ct_window: Tuple[float, float] = (40.0, 400.0),
                 mri_percentiles: Tuple[float, float] = (0.5, 99.5),
                 label_map: Optional[Dict[int, int]] = None,
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        name = type(self).__name__
        if not dataset_name:
            raise ValueError(f'{name}: dataset_name is required (the metric '
                             'reports it; it seeds the test k-space masks)')
        self.modality = check_modality(modality, name)
        self.dataset_name = dataset_name
        self.class_names = tuple(classes)
        if len(self.class_names) < 2:
            raise ValueError(f'{name}: classes needs background and at '
                             f'least one class, got {self.class_names}')
        self.img_dir, self.mask_dir = img_dir, mask_dir
        self.ct_window = tuple(ct_window)
        self.mri_percentiles = tuple(mri_percentiles)
        self.label_map = label_map
        super().__init__(
            data_root=data_root,
            metainfo=dict(classes=self.class_names),
            pipeline=build_pipeline_with_dunseg_registry(pipeline),
            **kwargs)

    def load_data_list(self) -> List[dict]:
        name = type(self).__name__
        img_dir = osp.join(self.data_root, self.img_dir)
        mask_dir = osp.join(self.data_root, self.mask_dir)
        for d in (img_dir, mask_dir):
            if not osp.isdir(d):
                raise FileNotFoundError(
                    f'{name}: {d!r} not found; expected layout:\n'
                    f'  <data_root>/{self.img_dir}/<name>.png|.npy\n'
                    f'  <data_root>/{self.mask_dir}/<name>.png|.npy')
        masks = {osp.splitext(n)[0]: n for n in os.listdir(mask_dir)
                 if has_suffix(n, SLICE_SUFFIXES)}
        data_list, missing = [], []
        for n in sorted(os.listdir(img_dir)):
            stem, ext = osp.splitext(n)
            if ext.lower() not in SLICE_SUFFIXES:
                continue
            if stem not in masks:
                missing.append(n)
                continue
            data_list.append(dict(img_path=osp.join(img_dir, n),
                                  seg_map_path=osp.join(mask_dir,
                                                        masks[stem]),
                                  case_id=stem))
        if missing:
            raise FileNotFoundError(
                f'{name}: no mask (<stem>.png or .npy) in {mask_dir!r} for '
                f'{_listed(missing)}')
        if not data_list:
            raise FileNotFoundError(f'{name}: no .png/.npy slices in '
                                    f'{img_dir!r}')
        return data_list

    def _read_image(self, path: str) -> np.ndarray:
        if has_suffix(path, ('.npy', )):
            img = np.load(path)
        else:
            from ..transforms.loading import decode_image_unchanged
            img = decode_image_unchanged(path, what='slice')
        img = np.asarray(img)
        if img.ndim == 3:
            img = img[..., 0] if img.shape[2] in (1, 3, 4) else img
        if img.ndim != 2:
            raise ValueError(f'{type(self).__name__}: {path!r} has shape '
                             f'{img.shape}; expected a grey (H, W) slice')
        if img.dtype == np.uint8:
            return img.astype(np.float32) / 255.0
        if img.dtype == np.uint16:
            from ..transforms.loading import unit_float_reported_once
            return unit_float_reported_once(img, path, type(self).__name__)
        img = img.astype(np.float32)
        check_finite_image(img, path, 'slice')
        if img.size and img.min() >= 0.0 and img.max() <= 1.0:
            return img
        if self.modality == 'CT' and img.min() <= -200:
            return window_ct(img, self.ct_window)
        return scale_mri(img, self.mri_percentiles)

    def _read_mask(self, path: str) -> np.ndarray:
        if has_suffix(path, ('.npy', )):
            mask = np.load(path)
        else:
            from ..transforms.loading import decode_image_unchanged
            mask = decode_image_unchanged(path, what='mask')
        mask = np.asarray(mask)
        if mask.ndim == 3:
            mask = mask[..., 0]
        if (self.label_map is None and len(self.class_names) == 2
                and mask.size and set(np.unique(mask).tolist()) <= {0, 255}):
            mask = (mask > 0).astype(np.uint8)
        return self._map_labels(mask, path)

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        img = self._read_image(info['img_path'])
        mask = self._read_mask(info['seg_map_path'])
        if img.shape != mask.shape:
            raise ValueError(
                f'{type(self).__name__}: slice {info["img_path"]!r} is '
                f'{img.shape} but its mask {info["seg_map_path"]!r} is '
                f'{mask.shape}')
        info.update(self._sample_fields())
        info.update(gt_img=img, gt_seg_map=mask, slice_index=0,
                    img_id=f'{self.dataset_name}/{info["case_id"]}',
                    img_shape=img.shape, ori_shape=img.shape)
        return info

