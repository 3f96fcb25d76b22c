"""Failure paths of the medical loaders that used to go unnoticed: files
with upper-case extensions (``c.PNG``, ``x.NII.GZ``) were skipped, and
HCC-TACE-Seg patients without a DICOM SEG were dropped without a word."""
import logging
import os

import cv2
import numpy as np
import pytest
from mmengine.logging import MMLogger

from dunseg.datasets import (
    ACDCDataset,
    BraTS2021Dataset,
    COVID19CTDataset,
    HCCTACESegDataset,
    MedicalSliceFolderDataset,
)
from dunseg.datasets.medical import read_medical_slice

from .test_medical_datasets import (
    SHAPE,
    _uid,
    labels_volume,
    mri_volume,
    write_ct_series,
    write_nifti,
    write_seg,
)

pytest.importorskip('nibabel')
pytest.importorskip('pydicom')


# -- upper-case extensions --------------------------------------------------
def test_slice_folder_loads_upper_case_extensions(tmp_path):
    (tmp_path / 'images').mkdir()
    (tmp_path / 'masks').mkdir()
    img = np.random.default_rng(0).integers(0, 256, (20, 24), np.uint8)
    mask = np.zeros((20, 24), np.uint8)
    mask[5:10, 5:10] = 255
    cv2.imwrite(str(tmp_path / 'images' / 'a.png'), img)
    cv2.imwrite(str(tmp_path / 'masks' / 'a.png'), mask)
    cv2.imwrite(str(tmp_path / 'images' / 'c.PNG'), img)
    cv2.imwrite(str(tmp_path / 'masks' / 'c.Png'), mask)
    np.save(tmp_path / 'images' / 'b.npy', np.full((20, 24), 0.25,
                                                   np.float32))
    np.save(tmp_path / 'masks' / 'b.npy', (mask > 0).astype(np.uint8))
    np.save(tmp_path / 'images' / 'd.npy', np.full((20, 24), 0.5,
                                                   np.float32))
    np.save(tmp_path / 'masks' / 'd.npy', (mask > 0).astype(np.uint8))
    # np.save appends '.npy' to any other ending: rename to upper case
    (tmp_path / 'images' / 'd.npy').rename(tmp_path / 'images' / 'd.NPY')
    (tmp_path / 'masks' / 'd.npy').rename(tmp_path / 'masks' / 'd.NPY')
    ds = MedicalSliceFolderDataset(data_root=str(tmp_path), modality='CT',
                                   dataset_name='mixed',
                                   classes=('background', 'lesion'))
    assert [ds.get_data_info(i)['case_id'] for i in range(len(ds))] == [
        'a', 'b', 'c', 'd']
    c, d = ds.get_data_info(2), ds.get_data_info(3)
    np.testing.assert_allclose(c['gt_img'], img / 255.0, atol=1e-6)
    assert c['gt_seg_map'].max() == 1
    np.testing.assert_allclose(d['gt_img'], 0.5)  # read as an array
    assert d['gt_seg_map'].sum() == 25


def test_read_medical_slice_reads_upper_case_npy(tmp_path):
    path = tmp_path / 'x.npy'
    np.save(path, np.full((4, 5), 0.5, np.float32))
    path.rename(tmp_path / 'x.NPY')
    out = read_medical_slice(str(tmp_path / 'x.NPY'))
    np.testing.assert_allclose(out['img'], 0.5)


def test_acdc_loads_upper_case_nifti(tmp_path):
    for patient, ext in (('patient001', '.nii.gz'), ('patient002', '.NII.GZ'),
                         ('patient003', '.NII')):
        stem = tmp_path / patient / f'{patient}_frame01'
        # nibabel picks gzip from the ending: write lower case, then rename
        lower = ext.lower()
        write_nifti(f'{stem}{lower}', mri_volume())
        write_nifti(f'{stem}_gt{lower}', labels_volume())
        for s in (f'{stem}', f'{stem}_gt'):
            os.rename(s + lower, s + ext)
    ds = ACDCDataset(data_root=str(tmp_path))
    assert len(ds) == 3 * SHAPE[2]
    ids = sorted({ds.get_data_info(i)['case_id'] for i in range(len(ds))})
    assert ids == ['patient001_frame01', 'patient002_frame01',
                   'patient003_frame01']
    assert set(np.unique(ds.get_data_info(SHAPE[2] + 1)['gt_seg_map'])) \
        == {0, 1, 2, 3}


def test_brats_loads_upper_case_nifti(tmp_path):
    case = 'BraTS2021_00001'
    write_nifti(str(tmp_path / case / f'{case}_t1.NII.GZ'), mri_volume())
    write_nifti(str(tmp_path / case / f'{case}_seg.Nii.Gz'),
                labels_volume(values=(1, )))
    ds = BraTS2021Dataset(data_root=str(tmp_path), foreground_only=True)
    assert len(ds) == 3
    assert ds.get_data_info(0)['gt_seg_map'].sum() == 12


def test_covid_ct_and_hcc_nifti_load_upper_case_nifti(tmp_path):
    write_nifti(str(tmp_path / 'ct_scans' / 'case_1.NII.GZ'),
                np.full(SHAPE, -1000.0, np.float32))
    write_nifti(str(tmp_path / 'infection_mask' / 'case_1.NII.GZ'),
                labels_volume(values=(1, )))
    ds = COVID19CTDataset(data_root=str(tmp_path))
    assert len(ds) == SHAPE[2]
    assert ds.get_data_info(0)['case_id'] == 'case_1'
    root = tmp_path / 'hcc'
    write_nifti(str(root / 'images' / 'HCC_003.NII.GZ'),
                np.full(SHAPE, -1024.0, np.float32))
    write_nifti(str(root / 'masks' / 'HCC_003.nii.gz'),
                labels_volume(values=(1, 2)))
    hcc = HCCTACESegDataset(data_root=str(root), layout='nifti')
    assert len(hcc) == SHAPE[2]
    assert hcc.get_data_info(0)['case_id'] == 'HCC_003'


def test_hcc_dicom_reads_upper_case_dcm(tmp_path):
    hu = np.full((2, 8, 8), -100.0, np.float32)
    hu[:, 0] = -1000.0  # air: the series is in HU
    patient = tmp_path / 'HCC_001'
    ct_uids = write_ct_series(str(patient / 'ct'), hu, _uid(3))
    mass = np.zeros((8, 8), np.uint8)
    mass[2:5, 2:5] = 1
    write_seg(str(patient / 'seg' / '1-1.DCM'), _uid(3), ct_uids, ['Mass'],
              [(1, 1, mass)])
    ds = HCCTACESegDataset(data_root=str(tmp_path), foreground_only=True)
    assert len(ds) == 1 and ds.get_data_info(0)['gt_seg_map'].sum() == 9


# -- HCC-TACE-Seg patients without a segmentation ---------------------------
def _hcc_tree(root):
    """HCC_001 with a SEG; HCC_002 and HCC_005 with CT only."""
    hu = np.full((2, 8, 8), -100.0, np.float32)
    hu[:, 0] = -1000.0  # air: the series is in HU
    ct_uids = write_ct_series(str(root / 'HCC_001' / 'ct'), hu, _uid(3))
    mass = np.zeros((8, 8), np.uint8)
    mass[2:5, 2:5] = 1
    write_seg(str(root / 'HCC_001' / 'seg' / '1-1.dcm'), _uid(3), ct_uids,
              ['Mass'], [(1, 1, mass)])
    for patient in ('HCC_002', 'HCC_005'):
        write_ct_series(str(root / patient / 'ct'), hu, _uid(4))


def test_hcc_dicom_patients_without_seg_raise_by_default(tmp_path):
    _hcc_tree(tmp_path)
    with pytest.raises(FileNotFoundError) as info:
        HCCTACESegDataset(data_root=str(tmp_path))
    message = str(info.value)
    assert 'HCC_002' in message and 'HCC_005' in message
    assert 'HCC_001' not in message.split('layout')[0]
    assert 'Modality SEG' in message and 'skip_unlabelled=True' in message


def test_hcc_dicom_skip_unlabelled_warns_with_count_and_ids(tmp_path):
    _hcc_tree(tmp_path)
    records = []

    class Catch(logging.Handler):

        def emit(self, record):
            records.append(record)

    handler = Catch(level=logging.WARNING)
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        ds = HCCTACESegDataset(data_root=str(tmp_path), skip_unlabelled=True)
    finally:
        logger.removeHandler(handler)
    assert len(ds) == 2
    assert {ds.get_data_info(i)['case_id'] for i in range(2)} == {'HCC_001'}
    warnings = [r.getMessage() for r in records
                if r.levelno == logging.WARNING]
    assert any('2 patient' in m and 'HCC_002' in m and 'HCC_005' in m
               for m in warnings), warnings


def test_hcc_skip_unlabelled_does_not_hide_an_empty_dataset(tmp_path):
    write_ct_series(str(tmp_path / 'HCC_002' / 'ct'),
                    np.zeros((2, 8, 8), np.float32), _uid(9))
    with pytest.raises(FileNotFoundError, match='no DICOM SEG'):
        HCCTACESegDataset(data_root=str(tmp_path), skip_unlabelled=True)
