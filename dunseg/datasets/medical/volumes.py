"""Medical segmentation datasets of VL-DUN, read as 2-D slices.

VL-DUN (arXiv 2601.23103) evaluates joint restoration and segmentation on
four datasets (taken from IMIS-bench): ACDC (cine-MRI, 4 classes), BraTS2021
(T1, tumour), COVID-19-CT (lung infection) and HCC-TACE-Seg (liver tumour,
CT). Each class below reads one public layout; a generic 2-D layout
(:class:`MedicalSliceFolderDataset`) reads slices exported as image and mask
files, as IMIS-bench-style benchmarks ship them.

Volumes are cut into 2-D slices along one axis. At construction only an
index of (volume, slice) pairs is built (from the NIfTI / DICOM headers; the
label volumes too when ``foreground_only=True``); volumes are read when a
slice is asked for, and the last ``cache_size`` volumes stay in memory (per
dataloader worker), so sequential access costs one read per volume.

Intensities are normalised per volume to [0, 1]:

- CT: a window ``(centre, width)`` in Hounsfield units (:func:`window_ct`);
  volumes that are not in HU (no voxel below -200, e.g. the radiopaedia
  cases of COVID-19-CT-Seg, stored as 0-255) fall back to percentile
  scaling, with a warning naming the file;
- MRI: percentile scaling (:func:`scale_mri`, 0.5-99.5 % by default,
  over the non-zero voxels for skull-stripped data such as BraTS).

Every sample given to the pipeline has ``gt_img`` (float32 (H, W)),
``gt_seg_map`` (uint8 (H, W), class indices), ``modality``,
``dataset_name``, ``num_classes``, ``classes``, ``img_id``
(``<dataset>/<case>/<slice>``, stable: it seeds test-split k-space masks),
``img_path`` / ``seg_map_path`` (the volume files), ``slice_index``,
``case_id``, ``img_shape`` and ``ori_shape``.

NIfTI slices are ``rot90`` of the voxel array's first two axes, so
RAS-stored volumes show anterior up; image and label are turned alike.
"""
import csv
import glob
import os
import os.path as osp
import warnings
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.dataset import BaseDataset

from dunseg.physics.undersampling import check_modality
from dunseg.registry import DATASETS
from dunseg.utils.finite import check_finite_image
from .istd import build_pipeline_with_dunseg_registry

NIFTI_SUFFIXES = ('.nii.gz', '.nii')
SLICE_SUFFIXES = ('.png', '.npy')
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


# ---------------------------------------------------------------------------
# intensity normalisation
def window_ct(volume: np.ndarray,
              window: Tuple[float, float] = (40.0, 400.0)) -> np.ndarray:
    """Clip HU to ``[centre - width/2, centre + width/2]`` and map to
    [0, 1] (float32)."""
    centre, width = float(window[0]), float(window[1])
    if width <= 0:
        raise ValueError(f'window_ct: width must be > 0, got {window!r}')
    lo = centre - width / 2
    out = (np.asarray(volume, np.float32) - np.float32(lo)) / np.float32(width)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def scale_mri(volume: np.ndarray,
              percentiles: Tuple[float, float] = (0.5, 99.5),
              nonzero: bool = False) -> np.ndarray:
    """Map the ``percentiles`` of the volume (of its non-zero voxels with
    ``nonzero=True``) to 0 and 1, clip, float32."""
    volume = np.asarray(volume, np.float32)
    values = volume[volume != 0] if nonzero else volume
    if values.size == 0:
        return np.zeros_like(volume)
    lo, hi = np.percentile(values, percentiles)
    if hi <= lo:
        return np.zeros_like(volume)
    out = (volume - np.float32(lo)) / np.float32(hi - lo)
    if nonzero:
        out[volume == 0] = 0.0
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def normalise_volume(volume: np.ndarray, modality: str, source: str,
                     ct_window: Tuple[float, float] = (40.0, 400.0),
                     mri_percentiles: Tuple[float, float] = (0.5, 99.5),
                     mri_nonzero: bool = False) -> np.ndarray:
    """The modality's normalisation (see the module docstring)."""
    check_finite_image(volume, source, 'volume')
    if check_modality(modality, 'normalise_volume') == 'CT':
        if volume.size and float(volume.min()) > -200:
            warnings.warn(
                f'CT volume {source!r} has no value below -200 (min '
                f'{float(volume.min()):g}), so it is not in Hounsfield '
                'units; scaling its 0.5-99.5 percentiles to [0, 1] instead '
                'of the HU window', stacklevel=2)
            return scale_mri(volume, (0.5, 99.5))
        return window_ct(volume, ct_window)
    return scale_mri(volume, mri_percentiles, mri_nonzero)


# ---------------------------------------------------------------------------
# readers
def _require(module: str):
    try:
        return __import__(module)
    except ImportError as err:
        raise ImportError(
            f'reading medical volumes needs {module}; install it with '
            '`pip install -r requirements/medical.txt`') from err


def nifti_shape(path: str) -> Tuple[int, ...]:
    """Shape of a NIfTI volume, from its header only."""
    nib = _require('nibabel')
    try:
        return tuple(int(s) for s in nib.load(path).shape)
    except FileNotFoundError:
        raise
    except Exception as err:
        raise IOError(f'cannot read the NIfTI header of {path!r} '
                      f'({type(err).__name__}: {err}); re-copy or re-export '
                      'the file') from err


def load_nifti(path: str) -> np.ndarray:
    """A NIfTI volume as (Z, H, W) slices along its third axis (each slice
    ``rot90`` of the voxel array), float32 after scaling (scl_slope /
    scl_inter applied)."""
    nib = _require('nibabel')
    if not osp.isfile(path):
        raise FileNotFoundError(f'NIfTI file not found: {path!r}')
    try:
        data = np.asarray(nib.load(path).get_fdata(dtype=np.float32))
    except Exception as err:
        raise IOError(f'cannot read NIfTI volume {path!r} '
                      f'({type(err).__name__}: {err})') from err
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim == 2:
        data = data[..., None]
    if data.ndim != 3:
        raise ValueError(f'{path!r} has shape {data.shape}; expected a 3-D '
                         'volume (a 4-D cine sequence must be split into '
                         'frames, as ACDC ships them)')
    return np.ascontiguousarray(np.rot90(data, k=1, axes=(0, 1)).transpose(
        2, 0, 1))


def _dicom_files(root: str) -> List[str]:
    files = []
    for dirpath, _, names in os.walk(root):
        files.extend(osp.join(dirpath, n) for n in names
                     if not n.startswith('.'))
    return sorted(files)


def read_dicom_headers(root: str) -> List[Tuple[str, object]]:
    """``(path, dataset without pixels)`` of every DICOM file under
    ``root`` (other files are skipped)."""
    pydicom = _require('pydicom')
    out = []
    for path in _dicom_files(root):
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except (pydicom.errors.InvalidDicomError, OSError):
            continue
        out.append((path, ds))
    return out


def _z_position(ds) -> float:
    position = getattr(ds, 'ImagePositionPatient', None)
    if position is not None:
        return float(position[2])
    return float(getattr(ds, 'InstanceNumber', 0))


def load_dicom_series(paths: Sequence[str]) -> np.ndarray:
    """CT slices (already sorted) as a (Z, H, W) float32 volume in HU
    (``pixel · RescaleSlope + RescaleIntercept``)."""
    pydicom = _require('pydicom')
    slices = []
    for path in paths:
        ds = pydicom.dcmread(path)
        pixels = ds.pixel_array.astype(np.float32)
        slope = float(getattr(ds, 'RescaleSlope', 1.0))
        intercept = float(getattr(ds, 'RescaleIntercept', 0.0))
        slices.append(pixels * slope + intercept)
    shapes = {s.shape for s in slices}
    if len(shapes) != 1:
        raise ValueError(f'DICOM series {osp.dirname(paths[0])!r} mixes '
                         f'slice sizes {sorted(shapes)}')
    return np.stack(slices)


def load_dicom_seg(path: str, series_uids: Sequence[str],
                   series_z: Sequence[float],
                   segment_classes: Dict[int, int]) -> np.ndarray:
    """Rasterise a DICOM SEG onto its CT series as a (Z, H, W) uint8 label
    volume.

    Each frame's segment (``SegmentIdentificationSequence``) is mapped to a
    class by ``segment_classes`` (segment number -> class; later classes
    win where segments overlap) and placed on the CT slice it was derived
    from (``DerivationImageSequence`` SOP instance UID), or, without that
    reference, on the slice with the nearest z position
    (``PlanePositionSequence``). FRACTIONAL segmentations are thresholded
    at half their ``MaximumFractionalValue``.
    """
    pydicom = _require('pydicom')
    ds = pydicom.dcmread(path)
    frames = np.asarray(ds.pixel_array)
    if frames.ndim == 2:
        frames = frames[None]
    per_frame = ds.PerFrameFunctionalGroupsSequence
    if len(per_frame) != frames.shape[0]:
        raise ValueError(f'DICOM SEG {path!r}: {frames.shape[0]} frames but '
                         f'{len(per_frame)} per-frame functional groups')
    labels = np.zeros((len(series_uids), ) + frames.shape[1:], np.uint8)
    # FRACTIONAL segmentations store a probability or occupancy per pixel
    # (0 .. MaximumFractionalValue): a pixel belongs when it is over half
    threshold = 0.0
    kind = str(getattr(ds, 'SegmentationType', 'BINARY')).upper()
    if kind == 'FRACTIONAL':
        threshold = float(getattr(ds, 'MaximumFractionalValue', 255)) / 2
    index_of_uid = {uid: i for i, uid in enumerate(series_uids)}
    z = np.asarray(series_z, np.float64)
    order = sorted(range(len(per_frame)),
                   key=lambda i: segment_classes.get(
                       int(per_frame[i].SegmentIdentificationSequence[0].
                           ReferencedSegmentNumber), 0))
    for i in order:
        group = per_frame[i]
        number = int(
            group.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        cls = segment_classes.get(number, 0)
        if cls == 0:
            continue
        target = None
        try:
            uid = (group.DerivationImageSequence[0].SourceImageSequence[0].
                   ReferencedSOPInstanceUID)
            target = index_of_uid.get(str(uid))
        except (AttributeError, IndexError):
            pass
        if target is None:
            frame_z = float(
                group.PlanePositionSequence[0].ImagePositionPatient[2])
            target = int(np.argmin(np.abs(z - frame_z)))
            if len(z) > 1:
                spacing = float(np.median(np.abs(np.diff(np.sort(z)))))
                if abs(z[target] - frame_z) > max(spacing, 1e-3) / 2 + 1e-3:
                    raise ValueError(
                        f'DICOM SEG {path!r}: frame {i} at z={frame_z:g} '
                        'matches no slice of the referenced CT series '
                        f'(nearest z={z[target]:g})')
        if frames.shape[1:] != labels.shape[1:]:
            raise ValueError(f'DICOM SEG {path!r}: frames are '
                             f'{frames.shape[1:]} but the CT slices '
                             f'{labels.shape[1:]}')
        labels[target][frames[i] > threshold] = cls
    return labels


def _listed(items: Sequence[str]) -> str:
    items = list(items)
    head = ', '.join(repr(i) for i in items[:_MAX_LISTED])
    more = len(items) - _MAX_LISTED
    return head + (f' and {more} more' if more > 0 else '')


def _strip_nifti(name: str) -> str:
    for suffix in NIFTI_SUFFIXES:
        if name.endswith(suffix):
            return name[:-len(suffix)]
    return name


def _find_nifti(stem_path: str) -> Optional[str]:
    for suffix in NIFTI_SUFFIXES:
        if osp.isfile(stem_path + suffix):
            return stem_path + suffix
    return None


# ---------------------------------------------------------------------------
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


@DATASETS.register_module()
class ACDCDataset(MedicalVolumeDataset):
    """ACDC cine-MRI (Bernard et al. 2018): end-diastole and end-systole
    frames with labels 0 background, 1 RV, 2 myocardium, 3 LV.

    ``data_root`` is the folder with the patient folders (the released
    ``training`` or ``testing`` folder)::

        <data_root>/patient001/patient001_frame01.nii.gz
                               patient001_frame01_gt.nii.gz
                               patient001_frame12.nii.gz ...

    Case ids are ``patient001_frame01`` etc. (``patient001_4d.nii.gz``
    is ignored).
    """

    dataset_name = 'ACDC'
    modality = 'MRI'
    class_names = ('background', 'RV', 'myocardium', 'LV')
    layout_help = ('  <data_root>/patientXXX/patientXXX_frameYY.nii.gz\n'
                   '  <data_root>/patientXXX/patientXXX_frameYY_gt.nii.gz')

    def list_cases(self) -> List[dict]:
        cases, missing = [], []
        pattern = osp.join(self.data_root, 'patient*', 'patient*_frame*.nii*')
        for path in sorted(glob.glob(pattern)):
            stem = _strip_nifti(osp.basename(path))
            if stem.endswith('_gt'):
                continue
            gt = _find_nifti(osp.join(osp.dirname(path), stem + '_gt'))
            if gt is None:
                missing.append(path)
                continue
            cases.append(dict(case_id=stem, img_path=path, seg_map_path=gt))
        if missing:
            raise FileNotFoundError(
                f'ACDCDataset: no label <frame>_gt.nii.gz next to '
                f'{_listed(missing)}; the testing frames of some ACDC copies '
                'come without labels: use the folder with labels')
        if not cases and osp.isdir(osp.join(self.data_root, 'training')):
            raise FileNotFoundError(
                f'ACDCDataset: no patient folders in {self.data_root!r}, '
                'but it has a "training" folder: set data_root to '
                f'{osp.join(self.data_root, "training")!r}')
        return cases

    def read_case(self, case):
        return load_nifti(case['img_path']), load_nifti(case['seg_map_path'])


@DATASETS.register_module()
class BraTS2021Dataset(MedicalVolumeDataset):
    """BraTS 2021 (Baid et al. 2021), one MRI sequence (T1, as VL-DUN)
    and the tumour labels.

    Layout (the released training data)::

        <data_root>/BraTS2021_00000/BraTS2021_00000_t1.nii.gz
                                    BraTS2021_00000_seg.nii.gz ...

    Args:
        sequence (str): ``'t1'`` (VL-DUN), ``'t1ce'``, ``'t2'`` or
            ``'flair'``.
        label_mode (str): ``'whole'``: background / tumour (seg > 0, the
            binary task VL-DUN reports); ``'regions'``: background,
            necrotic core (1), oedema (2), enhancing tumour (label 4 -> 3).
        **kwargs: See :class:`MedicalVolumeDataset`.
    """

    dataset_name = 'BraTS2021'
    modality = 'MRI'
    mri_nonzero = True  # skull-stripped: the zero background is not tissue
    layout_help = ('  <data_root>/BraTS2021_XXXXX/BraTS2021_XXXXX_t1.nii.gz\n'
                   '  <data_root>/BraTS2021_XXXXX/BraTS2021_XXXXX_seg.nii.gz')
    SEQUENCES = ('t1', 't1ce', 't2', 'flair')
    LABEL_MODES = dict(
        whole=(('background', 'tumour'), {1: 1, 2: 1, 4: 1}),
        regions=(('background', 'necrotic core', 'oedema',
                  'enhancing tumour'), {1: 1, 2: 2, 4: 3}))

    def __init__(self, sequence: str = 't1', label_mode: str = 'whole',
                 **kwargs) -> None:
        if sequence not in self.SEQUENCES:
            raise ValueError(f'BraTS2021Dataset: sequence must be one of '
                             f'{self.SEQUENCES}, got {sequence!r}')
        if label_mode not in self.LABEL_MODES:
            raise ValueError(f'BraTS2021Dataset: label_mode must be one of '
                             f'{tuple(self.LABEL_MODES)}, got {label_mode!r}')
        self.sequence = sequence
        self.label_mode = label_mode
        self.class_names, self.default_label_map = self.LABEL_MODES[
            label_mode]
        super().__init__(**kwargs)

    def list_cases(self) -> List[dict]:
        cases, missing = [], []
        for folder in sorted(glob.glob(osp.join(self.data_root, 'BraTS*'))):
            if not osp.isdir(folder):
                continue
            case_id = osp.basename(folder)
            img = _find_nifti(osp.join(folder, f'{case_id}_{self.sequence}'))
            seg = _find_nifti(osp.join(folder, f'{case_id}_seg'))
            if img is None or seg is None:
                suffix = self.sequence if img is None else 'seg'
                missing.append(
                    osp.join(folder, f'{case_id}_{suffix}.nii.gz'))
                continue
            cases.append(dict(case_id=case_id, img_path=img,
                              seg_map_path=seg))
        if missing:
            raise FileNotFoundError(
                f'BraTS2021Dataset: missing {_listed(missing)}; every case '
                f'folder needs its {self.sequence} image and seg labels')
        return cases

    def read_case(self, case):
        return load_nifti(case['img_path']), load_nifti(case['seg_map_path'])


@DATASETS.register_module()
class COVID19CTDataset(MedicalVolumeDataset):
    """COVID-19-CT-Seg (Ma et al. 2021): lung CT with infection masks
    (background / infection, binary as in VL-DUN).

    Layout (the common Kaggle copy; the Zenodo release works with
    ``img_dir='COVID-19-CT-Seg_20cases', mask_dir='Infection_Mask'``)::

        <data_root>/ct_scans/<name>.nii(.gz)
        <data_root>/infection_mask/<name>.nii(.gz)
        <data_root>/metadata.csv      (optional)

    Images and masks pair by identical file name or, when
    ``metadata.csv`` exists (Kaggle: columns ``ct_scan`` and
    ``infection_mask``, whose names differ, e.g. ``coronacases_org_001``
    and ``coronacases_001``), by its rows (file names taken from the
    paths). The default CT window is the lung window (-600, 1500). The 10
    radiopaedia cases are stored as 0-255, not HU, and are percentile
    scaled (see :func:`normalise_volume`).
    """

    dataset_name = 'COVID19CT'
    modality = 'CT'
    class_names = ('background', 'infection')
    default_label_map = None
    default_ct_window = (-600.0, 1500.0)
    layout_help = ('  <data_root>/ct_scans/<name>.nii.gz\n'
                   '  <data_root>/infection_mask/<name>.nii.gz\n'
                   '  [<data_root>/metadata.csv with columns ct_scan, '
                   'infection_mask]')

    def __init__(self, img_dir: str = 'ct_scans',
                 mask_dir: str = 'infection_mask', **kwargs) -> None:
        self.img_dir = img_dir
        self.mask_dir = mask_dir
        super().__init__(**kwargs)

    def _map_labels(self, labels, source):
        # Infection masks are 0/1 in Zenodo, 0/1 or 0/255 in some copies.
        return (np.asarray(labels) > 0).astype(np.uint8)

    def list_cases(self) -> List[dict]:
        img_dir = osp.join(self.data_root, self.img_dir)
        mask_dir = osp.join(self.data_root, self.mask_dir)
        for d, what in ((img_dir, 'img_dir'), (mask_dir, 'mask_dir')):
            if not osp.isdir(d):
                raise FileNotFoundError(
                    f'COVID19CTDataset: {what} {d!r} not found; expected '
                    f'layout:\n{self.layout_help}')
        metadata = osp.join(self.data_root, 'metadata.csv')
        pairs = []
        if osp.isfile(metadata):
            with open(metadata, newline='') as f:
                for row in csv.DictReader(f):
                    if not row.get('ct_scan') or not row.get('infection_mask'):
                        raise KeyError(
                            f'COVID19CTDataset: {metadata!r} needs the '
                            "columns 'ct_scan' and 'infection_mask'; it has "
                            f'{list(row)}')
                    pairs.append((osp.basename(row['ct_scan']),
                                  osp.basename(row['infection_mask'])))
        else:
            images = sorted(n for n in os.listdir(img_dir)
                            if n.endswith(NIFTI_SUFFIXES))
            masks = set(os.listdir(mask_dir))
            unmatched = [n for n in images if n not in masks]
            if unmatched:
                raise FileNotFoundError(
                    f'COVID19CTDataset: no mask of the same name in '
                    f'{mask_dir!r} for {_listed(unmatched)}; name masks like '
                    'their scans or add the Kaggle metadata.csv')
            pairs = [(n, n) for n in images]
        cases, missing = [], []
        for img_name, mask_name in pairs:
            img, mask = osp.join(img_dir, img_name), osp.join(mask_dir,
                                                             mask_name)
            for p in (img, mask):
                if not osp.isfile(p):
                    missing.append(p)
            cases.append(dict(case_id=_strip_nifti(img_name), img_path=img,
                              seg_map_path=mask))
        if missing:
            raise FileNotFoundError(
                f'COVID19CTDataset: files listed in metadata.csv are missing: '
                f'{_listed(missing)}')
        return cases

    def read_case(self, case):
        return load_nifti(case['img_path']), load_nifti(case['seg_map_path'])


@DATASETS.register_module()
class HCCTACESegDataset(MedicalVolumeDataset):
    """HCC-TACE-Seg (Moawad et al. 2021, TCIA): contrast-enhanced liver CT
    with liver and tumour segmentations.

    Two layouts (``layout``):

    - ``'dicom'`` (as TCIA ships it): one folder per patient, any depth
      below it; the DICOM SEG file (Modality ``SEG``, segments "Liver",
      "Mass", "Portal vein", "Abdominal aorta") names the CT series it
      annotates (``ReferencedSeriesSequence``), which is read in HU::

          <data_root>/HCC_001/<study>/<CT series>/1-001.dcm ...
          <data_root>/HCC_001/<study>/<SEG series>/1-1.dcm

      The first SEG of a patient is used; frames are placed by their
      source SOP instance UID, or by z position without it.
    - ``'nifti'`` (converted copies, e.g. IMIS-bench style)::

          <data_root>/images/<case>.nii.gz
          <data_root>/masks/<case>.nii.gz    (0 background, 1 liver,
                                              2 tumour by default)

    Args:
        layout (str): ``'dicom'`` or ``'nifti'``.
        label_mode (str): ``'tumour'`` (background / tumour, VL-DUN's task)
            or ``'liver_tumour'`` (background / liver / tumour).
        **kwargs: See :class:`MedicalVolumeDataset` (``label_map`` maps the
            NIfTI mask values; the default follows ``label_mode``).
    """

    dataset_name = 'HCCTACESeg'
    modality = 'CT'
    default_ct_window = (40.0, 400.0)  # abdomen window
    LABEL_MODES = dict(tumour=('background', 'tumour'),
                       liver_tumour=('background', 'liver', 'tumour'))
    NIFTI_LABELS = dict(tumour={2: 1}, liver_tumour={1: 1, 2: 2})
    TUMOUR_WORDS = ('mass', 'tumor', 'tumour', 'lesion', 'hcc')

    def __init__(self, layout: str = 'dicom', label_mode: str = 'tumour',
                 **kwargs) -> None:
        if layout not in ('dicom', 'nifti'):
            raise ValueError("HCCTACESegDataset: layout must be 'dicom' or "
                             f"'nifti', got {layout!r}")
        if label_mode not in self.LABEL_MODES:
            raise ValueError(f'HCCTACESegDataset: label_mode must be one of '
                             f'{tuple(self.LABEL_MODES)}, got {label_mode!r}')
        self.layout = layout
        self.label_mode = label_mode
        self.class_names = self.LABEL_MODES[label_mode]
        if layout == 'nifti':
            self.default_label_map = self.NIFTI_LABELS[label_mode]
            self.layout_help = ('  <data_root>/images/<case>.nii.gz\n'
                                '  <data_root>/masks/<case>.nii.gz')
        else:
            self.layout_help = (
                '  <data_root>/HCC_XXX/**/<CT series>/*.dcm\n'
                '  <data_root>/HCC_XXX/**/<SEG series>/*.dcm (Modality SEG)')
        super().__init__(**kwargs)

    # nifti ---------------------------------------------------------------
    def _nifti_cases(self) -> List[dict]:
        img_dir = osp.join(self.data_root, 'images')
        mask_dir = osp.join(self.data_root, 'masks')
        if not osp.isdir(img_dir) or not osp.isdir(mask_dir):
            raise FileNotFoundError(
                f"HCCTACESegDataset(layout='nifti'): {img_dir!r} and "
                f'{mask_dir!r} must exist; expected layout:\n'
                f'{self.layout_help}')
        cases, missing = [], []
        for name in sorted(os.listdir(img_dir)):
            if not name.endswith(NIFTI_SUFFIXES):
                continue
            stem = _strip_nifti(name)
            mask = _find_nifti(osp.join(mask_dir, stem))
            if mask is None:
                missing.append(osp.join(mask_dir, stem + '.nii.gz'))
                continue
            cases.append(dict(case_id=stem, img_path=osp.join(img_dir, name),
                              seg_map_path=mask))
        if missing:
            raise FileNotFoundError(
                f'HCCTACESegDataset: masks missing: {_listed(missing)}')
        return cases

    # dicom ---------------------------------------------------------------
    def _segment_classes(self, seg_ds, path: str) -> Dict[int, int]:
        classes = {}
        for segment in seg_ds.SegmentSequence:
            label = str(getattr(segment, 'SegmentLabel', '')).lower()
            number = int(segment.SegmentNumber)
            if any(w in label for w in self.TUMOUR_WORDS):
                classes[number] = len(self.class_names) - 1
            elif 'liver' in label and self.label_mode == 'liver_tumour':
                classes[number] = 1
        if not any(c == len(self.class_names) - 1 for c in classes.values()):
            labels = [str(getattr(s, 'SegmentLabel', '?'))
                      for s in seg_ds.SegmentSequence]
            raise ValueError(
                f'HCCTACESegDataset: the DICOM SEG {path!r} has no tumour '
                f'segment (labels {labels}; expected one containing '
                f'{self.TUMOUR_WORDS})')
        return classes

    def _dicom_cases(self) -> List[dict]:
        cases = []
        patients = sorted(d for d in os.listdir(self.data_root)
                          if osp.isdir(osp.join(self.data_root, d)))
        without_seg = []
        for patient in patients:
            headers = read_dicom_headers(osp.join(self.data_root, patient))
            segs = [(p, ds) for p, ds in headers
                    if str(getattr(ds, 'Modality', '')) == 'SEG']
            if not segs:
                if headers:
                    without_seg.append(patient)
                continue
            seg_path, seg_ds = segs[0]
            try:
                series_uid = str(
                    seg_ds.ReferencedSeriesSequence[0].SeriesInstanceUID)
            except (AttributeError, IndexError):
                raise ValueError(
                    f'HCCTACESegDataset: the DICOM SEG {seg_path!r} has no '
                    'ReferencedSeriesSequence naming its CT series')
            series = [(p, ds) for p, ds in headers
                      if str(getattr(ds, 'SeriesInstanceUID', '')) ==
                      series_uid and str(getattr(ds, 'Modality', '')) != 'SEG']
            if not series:
                raise FileNotFoundError(
                    f'HCCTACESegDataset: the CT series {series_uid} that '
                    f'{seg_path!r} annotates is not under '
                    f'{osp.join(self.data_root, patient)!r}; download the '
                    'whole patient folder')
            series.sort(key=lambda item: _z_position(item[1]))
            cases.append(dict(
                case_id=patient,
                img_path=osp.dirname(series[0][0]),
                seg_map_path=seg_path,
                ct_files=[p for p, _ in series],
                ct_uids=[str(ds.SOPInstanceUID) for _, ds in series],
                ct_z=[_z_position(ds) for _, ds in series],
                segment_classes=self._segment_classes(seg_ds, seg_path)))
        if without_seg and not cases:
            raise FileNotFoundError(
                f'HCCTACESegDataset: DICOM files found for '
                f'{_listed(without_seg)} but no DICOM SEG (Modality SEG); '
                "download the segmentations too, or use layout='nifti'")
        return cases

    def list_cases(self) -> List[dict]:
        return (self._nifti_cases()
                if self.layout == 'nifti' else self._dicom_cases())

    def num_slices(self, case: dict) -> int:
        if self.layout == 'nifti':
            return super().num_slices(case)
        return len(case['ct_files'])

    def read_labels(self, case):
        if self.layout == 'nifti':
            return load_nifti(case['seg_map_path'])
        return load_dicom_seg(case['seg_map_path'], case['ct_uids'],
                              case['ct_z'], case['segment_classes'])

    def read_case(self, case):
        if self.layout == 'nifti':
            return (load_nifti(case['img_path']),
                    load_nifti(case['seg_map_path']))
        return load_dicom_series(case['ct_files']), self.read_labels(case)

    def _map_labels(self, labels, source):
        if self.layout == 'dicom':  # already class indices
            return labels.astype(np.uint8)
        return super()._map_labels(labels, source)


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
                 if n.endswith(SLICE_SUFFIXES)}
        data_list, missing = [], []
        for n in sorted(os.listdir(img_dir)):
            stem, ext = osp.splitext(n)
            if ext not in SLICE_SUFFIXES:
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
        if path.endswith('.npy'):
            img = np.load(path)
        else:
            from .transforms.loading import decode_image_unchanged
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
            return img.astype(np.float32) / 65535.0
        img = img.astype(np.float32)
        check_finite_image(img, path, 'slice')
        if img.size and img.min() >= 0.0 and img.max() <= 1.0:
            return img
        if self.modality == 'CT' and img.min() <= -200:
            return window_ct(img, self.ct_window)
        return scale_mri(img, self.mri_percentiles)

    def _read_mask(self, path: str) -> np.ndarray:
        if path.endswith('.npy'):
            mask = np.load(path)
        else:
            from .transforms.loading import decode_image_unchanged
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


# ---------------------------------------------------------------------------
# single slices for inference (demo/image_demo.py, dunseg.apis)
#: File endings :func:`read_medical_slice` reads as volumes or DICOM.
DICOM_SUFFIXES = ('.dcm', '.dicom', '.ima')
#: DICOM ``Modality`` tag -> dunseg modality.
DICOM_MODALITIES = dict(CT='CT', MR='MRI')


def read_dicom_image(path: str) -> Tuple[np.ndarray, Optional[str]]:
    """One DICOM file as float32 ``(Z, H, W)`` physical values (HU for CT:
    ``pixel · RescaleSlope + RescaleIntercept``) and its modality
    (``'CT'`` / ``'MRI'`` from the ``Modality`` tag, None for others)."""
    pydicom = _require('pydicom')
    if not osp.isfile(path):
        raise FileNotFoundError(f'DICOM file not found: {path!r}')
    try:
        ds = pydicom.dcmread(path)
        pixels = np.asarray(ds.pixel_array, np.float32)
    except Exception as err:
        raise IOError(f'cannot read DICOM image {path!r} '
                      f'({type(err).__name__}: {err})') from err
    slope = float(getattr(ds, 'RescaleSlope', 1.0))
    intercept = float(getattr(ds, 'RescaleIntercept', 0.0))
    pixels = pixels * np.float32(slope) + np.float32(intercept)
    if pixels.ndim == 3 and pixels.shape[-1] in (3, 4) and \
            getattr(ds, 'SamplesPerPixel', 1) > 1:
        pixels = pixels[..., :3].mean(-1)  # colour secondary capture
    if pixels.ndim == 2:
        pixels = pixels[None]
    return pixels, DICOM_MODALITIES.get(str(getattr(ds, 'Modality', '')))


def _normalise_unknown(volume: np.ndarray, modality: Optional[str],
                       source: str, ct_window, mri_percentiles) -> np.ndarray:
    """Values already in [0, 1] are kept; others get the modality's
    normalisation; with no modality, a volume that looks like HU (values
    below -200, 99th percentile below 3000) is CT-windowed, anything else
    percentile scaled."""
    check_finite_image(volume, source, 'slice')
    if volume.size and volume.min() >= 0.0 and volume.max() <= 1.0:
        return volume.astype(np.float32)
    if modality is None:
        looks_hu = volume.size and volume.min() <= -200 and \
            np.percentile(volume, 99) < 3000
        modality = 'CT' if looks_hu else 'MRI'
    return normalise_volume(volume, modality, source, ct_window,
                            mri_percentiles)


def _luminance(img: np.ndarray) -> np.ndarray:
    """OpenCV BGR(A) -> grey, keeping the dtype."""
    import cv2
    code = cv2.COLOR_BGRA2GRAY if img.shape[2] == 4 else cv2.COLOR_BGR2GRAY
    return cv2.cvtColor(img, code)


def read_medical_slice(path: str,
                       slice_index: Optional[int] = None,
                       modality: Optional[str] = None,
                       ct_window: Tuple[float, float] = (40.0, 400.0),
                       mri_percentiles: Tuple[float, float] = (0.5, 99.5)
                       ) -> dict:
    """One grey slice of an image, array, DICOM or NIfTI file, in [0, 1].

    - PNG / TIFF / BMP / JPEG: 8/16-bit values are divided by 255 / 65535
      (as :class:`MedicalSliceFolderDataset` reads them); colour files are
      converted to luminance; float TIFFs as ``.npy``;
    - ``.npy``: a 2-D slice or a 3-D ``(Z, H, W)`` stack;
    - DICOM (``.dcm``, ``.dicom``, ``.ima``): rescaled to physical values,
      the modality read from the ``Modality`` tag;
    - NIfTI (``.nii``, ``.nii.gz``): slices along the third axis, turned as
      the volume datasets turn them (:func:`load_nifti`).

    Physical values (HU, MR intensities) are normalised per volume as the
    datasets do (:func:`normalise_volume`: CT window, MRI percentiles);
    with no ``modality`` (none given, none in the file) a volume with
    values below -200 and a 99th percentile below 3000 counts as HU.
    Values already in [0, 1] are kept.

    Args:
        path (str): The file.
        slice_index (int, optional): Slice of a volume; None = the middle.
        modality (str, optional): ``'CT'`` / ``'MRI'``; overrides the file.

    Returns:
        dict: ``img`` (float32 (H, W) in [0, 1]), ``modality`` (or None),
        ``slice_index``, ``num_slices``.
    """
    if modality is not None:
        modality = check_modality(modality, 'read_medical_slice')
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'image file not found: {path!r}; check the path (relative paths '
            f'start from the current directory, {os.getcwd()})')
    lower = path.lower()
    if lower.endswith(NIFTI_SUFFIXES):
        volume, file_modality = load_nifti(path), None
    elif lower.endswith(DICOM_SUFFIXES):
        volume, file_modality = read_dicom_image(path)
    elif lower.endswith('.npy'):
        volume, file_modality = np.load(path).astype(np.float32), None
        if volume.ndim == 2:
            volume = volume[None]
        if volume.ndim != 3:
            raise ValueError(f'{path!r} holds an array of shape '
                             f'{volume.shape}; expected (H, W) or (Z, H, W)')
    else:
        from .transforms.loading import decode_image_unchanged
        img = decode_image_unchanged(path, what='slice')
        if img.ndim == 3 and img.shape[2] in (3, 4):
            img = _luminance(img)
        elif img.ndim == 3:
            img = img[..., 0]
        if img.dtype in (np.uint8, np.uint16):
            img = img.astype(np.float32) / np.iinfo(img.dtype).max
        volume, file_modality = img.astype(np.float32)[None], None
    num = volume.shape[0]
    k = num // 2 if slice_index is None else int(slice_index)
    if not -num <= k < num:
        raise ValueError(f'{path!r} has {num} slice(s); slice_index {k} is '
                         'out of range')
    k %= num
    modality = modality or file_modality
    volume = _normalise_unknown(volume, modality, path, ct_window,
                                mri_percentiles)
    return dict(img=np.ascontiguousarray(volume[k]), modality=modality,
                slice_index=k, num_slices=num)


def packaged_sample_slices() -> Dict[str, dict]:
    """Real CT/MR slices that installed packages ship, normalised.

    Returns ``{name: dict(image=float32 (H, W) in [0, 1], modality,
    source)}`` for

    - ``'ct_small'``: pydicom's ``CT_small.dcm`` (128x128, HU, window
      (40, 400));
    - ``'mr_small'``: pydicom's ``MR_small.dcm`` (64x64);
    - ``'anatomical'``: the middle axial slice of nibabel's
      ``tests/data/anatomical.nii``;
    - ``'s1045'``: matplotlib's sample MRI slice ``s1045.ima.gz``
      (256x256, 16-bit).

    MR slices are percentile scaled (0.5-99.5 %). Raises ImportError
    naming the package when one is missing.
    """
    _require('pydicom')
    from pydicom.data import get_testdata_file
    out = {}
    for name, file, modality in (('ct_small', 'CT_small.dcm', 'CT'),
                                 ('mr_small', 'MR_small.dcm', 'MRI')):
        path = get_testdata_file(file)
        if path is None:
            raise FileNotFoundError(f'pydicom does not ship {file} here')
        pixels = read_dicom_image(path)[0][0]
        out[name] = dict(image=normalise_volume(pixels, modality, path),
                         modality=modality, source=path)
    nib = _require('nibabel')
    path = osp.join(osp.dirname(nib.__file__), 'tests', 'data',
                    'anatomical.nii')
    volume = load_nifti(path)
    out['anatomical'] = dict(image=scale_mri(volume[len(volume) // 2]),
                             modality='MRI', source=path)
    import matplotlib.cbook as cbook
    with cbook.get_sample_data('s1045.ima.gz') as f:
        raw = np.frombuffer(f.read(), np.uint16).reshape(256, 256)
    out['s1045'] = dict(image=scale_mri(raw.astype(np.float32)),
                        modality='MRI',
                        source='matplotlib sample_data/s1045.ima.gz')
    return out


__all__ = [
    'MedicalVolumeDataset', 'ACDCDataset', 'BraTS2021Dataset',
    'COVID19CTDataset', 'HCCTACESegDataset', 'MedicalSliceFolderDataset',
    'window_ct', 'scale_mri', 'normalise_volume', 'load_nifti',
    'nifti_shape', 'read_dicom_headers', 'load_dicom_series',
    'load_dicom_seg', 'packaged_sample_slices', 'read_dicom_image',
    'read_medical_slice'
]
