"""The shared base of the medical volume datasets: a volume (image +
labels) per case, cut into 2-D slices, read lazily and cached."""
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.dataset import BaseDataset

from ..istd import build_pipeline_with_dunseg_registry
from .intensity import normalise_volume
from .readers import load_nifti, nifti_shape

_MAX_LISTED = 5

# Where the data is published, for the error messages.
DATA_SOURCES = dict(
    ACDC='the ACDC challenge (humanheart-project.creatis.insa-lyon.fr, '
    'database "training" / "testing" folders)',
    BraTS2021='the RSNA-ASNR-MICCAI BraTS 2021 training data (Synapse / '
    'Kaggle "BraTS2021_Training_Data")',
    COVID19CT='COVID-19-CT-Seg (zenodo 3757476) or its Kaggle copy '
    '"COVID-19 CT scans" (ct_scans/, infection_mask/, metadata.csv)',
    HCCTACESeg='the TCIA collection HCC-TACE-Seg (CT DICOM series + DICOM '
    'SEG per patient)')


def _listed(items: Sequence[str]) -> str:
    items = list(items)
    head = ', '.join(repr(i) for i in items[:_MAX_LISTED])
    more = len(items) - _MAX_LISTED
    return head + (f' and {more} more' if more > 0 else '')



class _MedicalSampleMixin:
    """Fields every medical sample carries."""

    def _sample_fields(self) -> dict:
        return dict(modality=self.modality,
                    dataset_name=self.dataset_name,
                    num_classes=len(self.class_names),
                    classes=self.class_names)

    def _map_labels(self, labels: np.ndarray, source: str) -> np.ndarray:
        """Raw label values -> class indices (``label_map``; unmapped
        values are background), checked against the number of classes."""
        labels = np.asarray(labels)
        if np.issubdtype(labels.dtype, np.floating):
            labels = np.rint(labels)
        labels = labels.astype(np.int64)
        if self.label_map is not None:
            out = np.zeros(labels.shape, np.uint8)
            for raw, cls in self.label_map.items():
                out[labels == int(raw)] = int(cls)
            return out
        if labels.size and (labels.min() < 0 or
                            labels.max() >= len(self.class_names)):
            raise ValueError(
                f'{type(self).__name__}: labels of {source!r} take values '
                f'{sorted(np.unique(labels).tolist())[:10]} but the dataset '
                f'has {len(self.class_names)} classes {self.class_names}; '
                'pass label_map={raw value: class index}')
        return labels.astype(np.uint8)


class MedicalVolumeDataset(_MedicalSampleMixin, BaseDataset):
    """Base class: volumes (image + label) cut into 2-D slices.

    Subclasses set ``dataset_name``, ``modality`` and ``class_names`` and
    implement :meth:`list_cases` (``[dict(case_id, img_path, seg_map_path,
    ...)]``) and :meth:`read_case` (``(image (Z, H, W) raw intensities,
    labels (Z, H, W) raw values)``); the slice count of a case comes from
    :meth:`num_slices` and, with ``foreground_only``, the labels from
    :meth:`read_labels` (NIfTI by default).

    Args:
        data_root (str): Dataset directory (see the subclass for the
            layout).
        case_ids (Sequence[str], optional): Use only these cases.
        ann_file (str, optional): Text file with one case id per line
            (relative to ``data_root`` unless absolute): a split.
        foreground_only (bool): Keep only slices with at least
            ``min_foreground`` labelled (non-background) pixels. Needs the
            label volumes at construction.
        min_foreground (int): See ``foreground_only``.
        slice_step (int): Keep every ``slice_step``-th slice (adjacent
            slices are near duplicates).
        ct_window (tuple[float, float]): CT window (centre, width) in HU.
        mri_percentiles (tuple[float, float]): MRI scaling percentiles.
        label_map (dict, optional): Raw label value -> class index;
            unmapped values become background. Default: the subclass's.
        cache_size (int): Volumes kept in memory (per worker).
        dataset_name (str, optional): Overrides the class's name (reported
            by the metric).
        pipeline (Sequence): Transforms, built with dunseg's registry.
    """

    dataset_name: str = ''
    modality: str = 'MRI'
    class_names: Tuple[str, ...] = ('background', 'foreground')
    default_label_map: Optional[Dict[int, int]] = None
    default_ct_window: Tuple[float, float] = (40.0, 400.0)
    mri_nonzero: bool = False
    layout_help: str = ''

    def __init__(self,
                 data_root: str = '',
                 case_ids: Optional[Sequence[str]] = None,
                 ann_file: str = '',
                 foreground_only: bool = False,
                 min_foreground: int = 1,
                 slice_step: int = 1,
                 ct_window: Optional[Tuple[float, float]] = None,
                 mri_percentiles: Tuple[float, float] = (0.5, 99.5),
                 label_map: Optional[Dict[int, int]] = None,
                 cache_size: int = 2,
                 dataset_name: Optional[str] = None,
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        name = type(self).__name__
        if not data_root:
            raise ValueError(f'{name}: data_root is required; expected '
                             f'layout:\n{self.layout_help}')
        if not osp.isdir(data_root):
            raise FileNotFoundError(
                f'{name}: data_root {data_root!r} is not a directory; '
                f'expected layout:\n{self.layout_help}\nData: '
                f'{DATA_SOURCES.get(self.dataset_name, "see the docs")}')
        if int(slice_step) < 1:
            raise ValueError(f'{name}: slice_step must be >= 1, got '
                             f'{slice_step!r}')
        self.case_ids = None if case_ids is None else [str(c)
                                                       for c in case_ids]
        self.split_file = ann_file
        self.foreground_only = bool(foreground_only)
        self.min_foreground = int(min_foreground)
        self.slice_step = int(slice_step)
        self.ct_window = tuple(ct_window or self.default_ct_window)
        self.mri_percentiles = tuple(mri_percentiles)
        self.label_map = (label_map if label_map is not None else
                          self.default_label_map)
        self.cache_size = max(1, int(cache_size))
        if dataset_name:
            self.dataset_name = dataset_name
        self._cache: 'OrderedDict[str, Tuple[np.ndarray, np.ndarray]]' = \
            OrderedDict()
        self.cases: List[dict] = []
        super().__init__(
            data_root=data_root,
            # strings in metainfo are taken for file names by mmengine:
            # the dataset name and modality travel with every sample instead
            metainfo=dict(classes=self.class_names),
            pipeline=build_pipeline_with_dunseg_registry(pipeline),
            **kwargs)

    # to implement -------------------------------------------------------
    def list_cases(self) -> List[dict]:
        raise NotImplementedError

    def read_case(self, case: dict) -> Tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def read_labels(self, case: dict) -> np.ndarray:
        """Only the raw label volume (Z, H, W), for ``foreground_only``
        at construction (images are not read then)."""
        return load_nifti(case['seg_map_path'])

    def num_slices(self, case: dict) -> int:
        """Slices of a NIfTI case, from its header (axis 2)."""
        shape = nifti_shape(case['img_path'])
        return shape[2] if len(shape) >= 3 else 1

    # ---------------------------------------------------------------------
    def _selected_ids(self) -> Optional[List[str]]:
        ids = list(self.case_ids) if self.case_ids is not None else None
        if self.split_file:
            path = (self.split_file if osp.isabs(self.split_file) else
                    osp.join(self.data_root, self.split_file))
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'{type(self).__name__}: split file {path!r} (ann_file) '
                    'not found; it lists one case id per line')
            with open(path) as f:
                listed = [line.strip() for line in f if line.strip()]
            ids = listed if ids is None else [i for i in ids if i in listed]
        return ids

    def load_data_list(self) -> List[dict]:
        cases = self.list_cases()
        name = type(self).__name__
        if not cases:
            raise FileNotFoundError(
                f'{name}: no cases found under {self.data_root!r}; expected '
                f'layout:\n{self.layout_help}\nData: '
                f'{DATA_SOURCES.get(self.dataset_name, "see the docs")}')
        wanted = self._selected_ids()
        if wanted is not None:
            known = {c['case_id'] for c in cases}
            unknown = [i for i in wanted if i not in known]
            if unknown:
                raise KeyError(
                    f'{name}: case ids {_listed(unknown)} (case_ids / '
                    f'ann_file) are not in {self.data_root!r}, which has '
                    f'{_listed(sorted(known))}')
            cases = [c for c in cases if c['case_id'] in set(wanted)]
        self.cases = cases
        data_list = []
        for case_index, case in enumerate(cases):
            if self.foreground_only:
                labels = self._map_labels(self.read_labels(case),
                                          case['seg_map_path'])
                counts = (labels > 0).reshape(len(labels), -1).sum(1)
                slices = [int(k) for k in np.flatnonzero(
                    counts >= self.min_foreground)]
            else:
                slices = list(range(self.num_slices(case)))
            for k in slices[::self.slice_step]:
                data_list.append(dict(case_index=case_index, slice_index=k))
        if not data_list:
            raise ValueError(
                f'{name}: the {len(cases)} case(s) under {self.data_root!r} '
                'give no slice (foreground_only=True and no labelled '
                'pixels?)')
        return data_list

    def _volume(self, case_index: int) -> Tuple[np.ndarray, np.ndarray]:
        case = self.cases[case_index]
        key = case['case_id']
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        image, labels = self.read_case(case)
        if image.shape != labels.shape:
            raise ValueError(
                f'{type(self).__name__}: image {case["img_path"]!r} is '
                f'{image.shape} but its labels {case["seg_map_path"]!r} are '
                f'{labels.shape} (Z, H, W)')
        image = normalise_volume(image, self.modality, case['img_path'],
                                 self.ct_window, self.mri_percentiles,
                                 self.mri_nonzero)
        labels = self._map_labels(labels, case['seg_map_path'])
        self._cache[key] = (image, labels)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return image, labels

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        case = self.cases[info['case_index']]
        image, labels = self._volume(info['case_index'])
        k = info['slice_index']
        shape = image.shape[1:]
        info.update(self._sample_fields())
        info.update(gt_img=image[k].copy(),
                    gt_seg_map=labels[k].copy(),
                    case_id=case['case_id'],
                    img_path=case['img_path'],
                    seg_map_path=case['seg_map_path'],
                    img_id=f'{self.dataset_name}/{case["case_id"]}/{k}',
                    img_shape=shape,
                    ori_shape=shape)
        return info

