"""The published volume layouts VL-DUN evaluates on: ACDC, BraTS2021,
COVID-19-CT and HCC-TACE-Seg, each read by one dataset class."""
import csv
import glob
import logging
import os
import os.path as osp
from typing import Dict, List

import numpy as np
from mmengine.logging import print_log

from dunseg.registry import DATASETS

from .base import MedicalVolumeDataset, _listed
from .readers import (
    NIFTI_SUFFIXES,
    _find_nifti,
    _strip_nifti,
    _z_position,
    has_suffix,
    load_dicom_seg,
    load_dicom_series,
    load_nifti,
    read_dicom_headers,
)


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
        # glob is case-sensitive on Linux: match the NIfTI ending by hand
        pattern = osp.join(self.data_root, 'patient*', 'patient*_frame*')
        for path in sorted(p for p in glob.glob(pattern)
                           if has_suffix(p, NIFTI_SUFFIXES)):
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
                            if has_suffix(n, NIFTI_SUFFIXES))
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
      source SOP instance UID, or by z position without it. A patient
      folder with DICOM files but no SEG is an error naming it, unless
      ``skip_unlabelled=True``.
    - ``'nifti'`` (converted copies, e.g. IMIS-bench style)::

          <data_root>/images/<case>.nii.gz
          <data_root>/masks/<case>.nii.gz    (0 background, 1 liver,
                                              2 tumour by default)

    Args:
        layout (str): ``'dicom'`` or ``'nifti'``.
        label_mode (str): ``'tumour'`` (background / tumour, VL-DUN's task)
            or ``'liver_tumour'`` (background / liver / tumour).
        skip_unlabelled (bool): ``'dicom'`` layout: leave out patients
            without a DICOM SEG, logging a warning with their count and
            ids, instead of raising an error that lists them. Default False.
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
                 skip_unlabelled: bool = False, **kwargs) -> None:
        if layout not in ('dicom', 'nifti'):
            raise ValueError("HCCTACESegDataset: layout must be 'dicom' or "
                             f"'nifti', got {layout!r}")
        if label_mode not in self.LABEL_MODES:
            raise ValueError(f'HCCTACESegDataset: label_mode must be one of '
                             f'{tuple(self.LABEL_MODES)}, got {label_mode!r}')
        self.layout = layout
        self.label_mode = label_mode
        self.skip_unlabelled = bool(skip_unlabelled)
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
            if not has_suffix(name, NIFTI_SUFFIXES):
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
        if without_seg and not self.skip_unlabelled:
            raise FileNotFoundError(
                f'HCCTACESegDataset: {len(without_seg)} patient folder(s) '
                f'under {self.data_root!r} hold DICOM files but no DICOM SEG '
                f'(Modality SEG): {_listed(without_seg)}. Each patient needs '
                f'its CT series and the SEG series annotating it; expected '
                f'layout:\n{self.layout_help}\nDownload their '
                'segmentations, remove those folders, or pass '
                'skip_unlabelled=True to leave them out')
        if without_seg:
            print_log(
                f'HCCTACESegDataset: skipping {len(without_seg)} patient(s) '
                f'under {self.data_root!r} without a DICOM SEG (Modality '
                f'SEG): {_listed(without_seg)} (skip_unlabelled=True)',
                logger='current', level=logging.WARNING)
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
