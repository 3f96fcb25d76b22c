"""Medical datasets on tiny trees the tests write: NIfTI (ACDC, BraTS2021,
COVID-19-CT, converted HCC-TACE-Seg) through nibabel, a CT DICOM series with
a DICOM SEG (HCC-TACE-Seg as TCIA ships it) through pydicom, and 2-D slice
folders; plus the slices that installed packages ship."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from dunseg.datasets import (
    ACDCDataset,
    BraTS2021Dataset,
    COVID19CTDataset,
    HCCTACESegDataset,
    MedicalSliceFolderDataset,
    packaged_sample_slices,
)
from dunseg.datasets.medical import scale_mri, window_ct

nib = pytest.importorskip('nibabel')
pydicom = pytest.importorskip('pydicom')

PIPELINE = [dict(type='KSpaceUndersample', seed=0),
            dict(type='PackMedicalInputs')]
SHAPE = (12, 10, 5)  # voxel axes (x, y, z); slices are rot90 -> (10, 12)


def labels_volume(values=(1, 2, 3), empty_slices=(0, 4)):
    labels = np.zeros(SHAPE, np.uint8)
    for z in range(SHAPE[2]):
        if z in empty_slices:
            continue
        for i, v in enumerate(values):
            labels[2 + 3 * i:4 + 3 * i, 2:8, z] = v
    return labels


def write_nifti(path, data):
    os.makedirs(osp.dirname(path), exist_ok=True)
    nib.save(nib.Nifti1Image(data, np.eye(4)), path)


def mri_volume(seed=0):
    return np.random.default_rng(seed).uniform(0, 800, SHAPE).astype(
        np.float32)


def test_normalisation_ct_window_and_mri_percentiles():
    hu = np.array([-1000., -160., 40., 240., 3000.], np.float32)
    np.testing.assert_allclose(window_ct(hu, (40, 400)),
                               [0, 0, 0.5, 1, 1])
    vol = np.arange(1001, dtype=np.float32)
    out = scale_mri(vol, (10, 90))
    assert out[100] == 0 and out[900] == 1
    np.testing.assert_allclose(out[500], 0.5)
    masked = scale_mri(np.array([0, 0, 10, 20, 30], np.float32), (0, 100),
                       nonzero=True)
    np.testing.assert_allclose(masked, [0, 0, 0, 0.5, 1])


def test_acdc_layout_classes_and_slices(tmp_path):
    for patient in ('patient001', 'patient002'):
        for frame in ('01', '12'):
            stem = tmp_path / patient / f'{patient}_frame{frame}'
            write_nifti(f'{stem}.nii.gz', mri_volume())
            write_nifti(f'{stem}_gt.nii.gz', labels_volume())
        write_nifti(str(tmp_path / patient / f'{patient}_4d.nii.gz'),
                    np.zeros(SHAPE + (2, ), np.float32))
    ds = ACDCDataset(data_root=str(tmp_path), pipeline=PIPELINE)
    assert len(ds) == 4 * SHAPE[2]
    fg = ACDCDataset(data_root=str(tmp_path), foreground_only=True,
                     case_ids=['patient002_frame12'], pipeline=PIPELINE)
    assert len(fg) == 3  # the two empty slices are dropped
    info = fg.get_data_info(0)
    assert info['gt_img'].shape == (10, 12)
    assert info['img_id'] == 'ACDC/patient002_frame12/1'
    assert info['modality'] == 'MRI' and info['num_classes'] == 4
    assert info['classes'] == ('background', 'RV', 'myocardium', 'LV')
    assert set(np.unique(info['gt_seg_map'])) == {0, 1, 2, 3}
    packed = fg[0]
    assert packed['inputs'].shape == (1, 10, 12)
    assert packed['data_samples'].gt_mask.data.max() == 3
    assert packed['data_samples'].dataset_name == 'ACDC'


def test_acdc_rot90_keeps_image_and_label_aligned(tmp_path):
    image = np.zeros(SHAPE, np.float32)
    labels = labels_volume(values=(3, ), empty_slices=())
    image[labels > 0] = 500.0
    image += 1.0
    stem = tmp_path / 'patient001' / 'patient001_frame01'
    write_nifti(f'{stem}.nii.gz', image)
    write_nifti(f'{stem}_gt.nii.gz', labels)
    info = ACDCDataset(data_root=str(tmp_path)).get_data_info(2)
    np.testing.assert_array_equal(info['gt_img'] > 0.5,
                                  info['gt_seg_map'] == 3)
    np.testing.assert_array_equal(info['gt_seg_map'],
                                  np.rot90(labels[:, :, 2]))


def test_acdc_errors_name_the_expected_path(tmp_path):
    with pytest.raises(FileNotFoundError, match='patientXXX_frameYY'):
        ACDCDataset(data_root=str(tmp_path))
    (tmp_path / 'training').mkdir()
    with pytest.raises(FileNotFoundError, match='"training" folder'):
        ACDCDataset(data_root=str(tmp_path))
    stem = tmp_path / 'patient001' / 'patient001_frame01'
    write_nifti(f'{stem}.nii.gz', mri_volume())
    with pytest.raises(FileNotFoundError, match='_gt.nii.gz'):
        ACDCDataset(data_root=str(tmp_path))
    with pytest.raises(FileNotFoundError, match='not a directory'):
        ACDCDataset(data_root=str(tmp_path / 'nowhere'))


def test_brats_t1_whole_tumour_and_regions(tmp_path):
    seg = np.zeros(SHAPE, np.uint8)
    seg[2:4, 2:6, 2] = 1
    seg[5:7, 2:6, 2] = 2
    seg[8:10, 2:6, 2] = 4
    for case in ('BraTS2021_00000', 'BraTS2021_00002'):
        vol = mri_volume()
        vol[0] = 0  # skull-stripped background
        write_nifti(str(tmp_path / case / f'{case}_t1.nii.gz'), vol)
        write_nifti(str(tmp_path / case / f'{case}_seg.nii.gz'), seg)
    (tmp_path / 'test.txt').write_text('BraTS2021_00002\n')
    whole = BraTS2021Dataset(data_root=str(tmp_path), ann_file='test.txt',
                             foreground_only=True, pipeline=PIPELINE)
    assert len(whole) == 1
    info = whole.get_data_info(0)
    assert info['classes'] == ('background', 'tumour')
    assert (info['gt_seg_map'] == 1).sum() == 24
    assert info['gt_img'].min() == 0.0 and info['gt_img'].max() == 1.0
    regions = BraTS2021Dataset(data_root=str(tmp_path), label_mode='regions',
                               foreground_only=True)
    assert len(regions) == 2
    assert set(np.unique(regions.get_data_info(0)['gt_seg_map'])) == {
        0, 1, 2, 3}  # enhancing tumour 4 -> 3
    with pytest.raises(KeyError, match='BraTS2021_09999'):
        BraTS2021Dataset(data_root=str(tmp_path), case_ids=['BraTS2021_09999'])
    os.remove(tmp_path / 'BraTS2021_00000' / 'BraTS2021_00000_seg.nii.gz')
    with pytest.raises(FileNotFoundError, match='BraTS2021_00000_seg'):
        BraTS2021Dataset(data_root=str(tmp_path))


def test_covid_ct_pairs_by_metadata_and_windows_hu(tmp_path):
    hu = np.full(SHAPE, -1000.0, np.float32)
    hu[2:10, 2:8] = 40.0
    infection = np.zeros(SHAPE, np.uint8)
    infection[3:5, 3:5, 1:3] = 255
    write_nifti(str(tmp_path / 'ct_scans' / 'coronacases_org_001.nii'), hu)
    write_nifti(str(tmp_path / 'infection_mask' / 'coronacases_001.nii'),
                infection)
    # Kaggle's metadata.csv holds paths of the authors' machine
    (tmp_path / 'metadata.csv').write_text(
        'ct_scan,lung_mask,infection_mask,lung_and_infection_mask\n'
        '../input/covid19-ct-scans/ct_scans/coronacases_org_001.nii,x,'
        '../input/covid19-ct-scans/infection_mask/coronacases_001.nii,y\n')
    ds = COVID19CTDataset(data_root=str(tmp_path), foreground_only=True,
                          ct_window=(-600, 1500), pipeline=PIPELINE)
    assert len(ds) == 2
    info = ds.get_data_info(0)
    assert info['modality'] == 'CT' and info['case_id'] == \
        'coronacases_org_001'
    assert set(np.unique(info['gt_seg_map'])) == {0, 1}
    # lung window: -1000 HU -> (−1000+1350)/1500, 40 HU -> 1390/1500
    np.testing.assert_allclose(sorted(np.unique(info['gt_img'])),
                               [350 / 1500, 1390 / 1500], rtol=1e-5)
    assert ds[0]['data_samples'].kspace_pattern == 'radial'
    os.remove(tmp_path / 'metadata.csv')
    with pytest.raises(FileNotFoundError, match='metadata.csv'):
        COVID19CTDataset(data_root=str(tmp_path))


def test_covid_ct_not_in_hu_is_percentile_scaled_with_a_warning(tmp_path):
    scan = np.random.default_rng(0).uniform(0, 255, SHAPE).astype(np.float32)
    write_nifti(str(tmp_path / 'ct_scans' / 'radiopaedia_1.nii.gz'), scan)
    write_nifti(str(tmp_path / 'infection_mask' / 'radiopaedia_1.nii.gz'),
                labels_volume(values=(1, )))
    ds = COVID19CTDataset(data_root=str(tmp_path))
    with pytest.warns(UserWarning, match='not in Hounsfield units'):
        img = ds.get_data_info(0)['gt_img']
    assert 0.0 <= img.min() and img.max() <= 1.0 and img.std() > 0.1


def _uid(i):
    return f'1.2.826.0.1.3680043.8.498.{i}'


def write_ct_series(folder, hu, series_uid, z0=0.0):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian
    os.makedirs(folder, exist_ok=True)
    uids = []
    for k in range(hu.shape[0]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = _uid(1000 + k)
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = _uid(1000 + k)
        ds.SeriesInstanceUID = series_uid
        ds.Modality = 'CT'
        ds.ImagePositionPatient = [0.0, 0.0, z0 + 2.5 * k]
        ds.InstanceNumber = hu.shape[0] - k  # not the z order on purpose
        ds.Rows, ds.Columns = hu.shape[1:]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = 'MONOCHROME2'
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
        ds.PixelRepresentation = 0
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.PixelData = (hu[k] + 1024).astype(np.uint16).tobytes()
        # files named against the z order
        ds.save_as(osp.join(folder, f'1-{hu.shape[0] - k:03d}.dcm'),
                   enforce_file_format=True)
        uids.append(ds.SOPInstanceUID)
    return uids


def write_seg(path, series_uid, ct_uids, segments, frames, z0=0.0,
              with_source=True, fractional=False):
    """A DICOM SEG: ``segments`` = labels; ``frames`` = [(segment number,
    slice index, mask)]: binary masks (1 bit), or 0-255 occupancies with
    ``fractional=True`` (8 bits)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.pixels import pack_bits
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian
    seg_class = '1.2.840.10008.5.1.4.1.1.66.4'
    os.makedirs(osp.dirname(path), exist_ok=True)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = seg_class
    meta.MediaStorageSOPInstanceUID = _uid(5000)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = seg_class
    ds.SOPInstanceUID = _uid(5000)
    ds.SeriesInstanceUID = _uid(5001)
    ds.Modality = 'SEG'
    ref = Dataset()
    ref.SeriesInstanceUID = series_uid
    ds.ReferencedSeriesSequence = Sequence([ref])
    items = []
    for number, label in enumerate(segments, start=1):
        item = Dataset()
        item.SegmentNumber = number
        item.SegmentLabel = label
        items.append(item)
    ds.SegmentSequence = Sequence(items)
    groups = []
    for number, k, _ in frames:
        group = Dataset()
        ident = Dataset()
        ident.ReferencedSegmentNumber = number
        group.SegmentIdentificationSequence = Sequence([ident])
        plane = Dataset()
        plane.ImagePositionPatient = [0.0, 0.0, z0 + 2.5 * k]
        group.PlanePositionSequence = Sequence([plane])
        if with_source:
            source = Dataset()
            source.ReferencedSOPInstanceUID = ct_uids[k]
            derivation = Dataset()
            derivation.SourceImageSequence = Sequence([source])
            group.DerivationImageSequence = Sequence([derivation])
        groups.append(group)
    ds.PerFrameFunctionalGroupsSequence = Sequence(groups)
    masks = np.stack([m for _, _, m in frames]).astype(np.uint8)
    ds.NumberOfFrames = len(frames)
    ds.Rows, ds.Columns = masks.shape[1:]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = 'MONOCHROME2'
    ds.PixelRepresentation = 0
    if fractional:
        ds.SegmentationType = 'FRACTIONAL'
        ds.MaximumFractionalValue = 255
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
        ds.PixelData = masks.tobytes()
    else:
        ds.SegmentationType = 'BINARY'
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 1, 1, 0
        ds.PixelData = pack_bits(masks)
    ds.save_as(path, enforce_file_format=True)


@pytest.mark.parametrize('with_source', [True, False])
def test_hcc_tace_seg_dicom_series_and_seg(tmp_path, with_source):
    hu = np.full((4, 16, 16), -100.0, np.float32)
    hu[:, 0, :] = -1000.0  # air
    series_uid = _uid(1)
    patient = tmp_path / 'HCC_001' / 'study'
    ct_uids = write_ct_series(str(patient / '2.000-PORTAL'), hu, series_uid,
                              z0=-50.0)
    # another CT series of the patient that the SEG does not annotate
    write_ct_series(str(patient / '3.000-DELAYED'), hu + 500, _uid(2))
    liver = np.zeros((16, 16), np.uint8)
    liver[2:14, 2:14] = 1
    mass = np.zeros((16, 16), np.uint8)
    mass[5:8, 5:8] = 1
    write_seg(str(patient / '300.000-Segmentation' / '1-1.dcm'), series_uid,
              ct_uids, ['Liver', 'Mass', 'Portal vein'],
              [(1, 1, liver), (1, 2, liver), (2, 2, mass), (3, 3, liver)],
              z0=-50.0, with_source=with_source)
    ds = HCCTACESegDataset(data_root=str(tmp_path), pipeline=PIPELINE)
    assert len(ds) == 4
    tumour = HCCTACESegDataset(data_root=str(tmp_path), foreground_only=True)
    assert len(tumour) == 1
    info = tumour.get_data_info(0)
    assert info['slice_index'] == 2 and info['classes'] == ('background',
                                                            'tumour')
    assert info['gt_seg_map'].sum() == 9
    # HU window (40, 400): -100 HU -> 0.15 (the portal series, not +500)
    np.testing.assert_allclose(info['gt_img'][1:], 0.15, atol=1e-6)
    assert (info['gt_img'][0] == 0).all()
    both = HCCTACESegDataset(data_root=str(tmp_path), foreground_only=True,
                             label_mode='liver_tumour')
    assert len(both) == 2
    seg = both.get_data_info(1)['gt_seg_map']
    assert (seg == 2).sum() == 9 and (seg == 1).sum() == 144 - 9
    assert ds[0]['data_samples'].modality == 'CT'


def test_hcc_tace_seg_fractional_seg_is_thresholded_at_half(tmp_path):
    hu = np.full((2, 8, 8), -1000.0, np.float32)
    patient = tmp_path / 'HCC_004'
    ct_uids = write_ct_series(str(patient / 'ct'), hu, _uid(3))
    occupancy = np.zeros((8, 8), np.uint8)
    occupancy[1:3, 1:3] = 100  # under half of 255: outside
    occupancy[4:7, 4:7] = 200  # over half: tumour
    write_seg(str(patient / 'seg' / '1-1.dcm'), _uid(3), ct_uids,
              ['Mass'], [(1, 1, occupancy)], fractional=True)
    ds = HCCTACESegDataset(data_root=str(tmp_path), foreground_only=True)
    seg = ds.get_data_info(0)['gt_seg_map']
    assert seg.sum() == 9 and seg[4:7, 4:7].all()


def test_hcc_tace_seg_errors_and_nifti_layout(tmp_path):
    ct = tmp_path / 'dicom' / 'HCC_002' / 'series'
    write_ct_series(str(ct), np.zeros((2, 8, 8), np.float32), _uid(9))
    with pytest.raises(FileNotFoundError, match='no DICOM SEG'):
        HCCTACESegDataset(data_root=str(tmp_path / 'dicom'))
    root = tmp_path / 'nifti'
    hu = np.full(SHAPE, -1024.0, np.float32)
    write_nifti(str(root / 'images' / 'HCC_003.nii.gz'), hu)
    write_nifti(str(root / 'masks' / 'HCC_003.nii.gz'),
                labels_volume(values=(1, 2)))
    ds = HCCTACESegDataset(data_root=str(root), layout='nifti',
                           foreground_only=True)
    assert len(ds) == 3
    assert set(np.unique(ds.get_data_info(0)['gt_seg_map'])) == {0, 1}
    with pytest.raises(FileNotFoundError, match='images'):
        HCCTACESegDataset(data_root=str(tmp_path / 'dicom'), layout='nifti')


def test_slice_folder_png_and_npy(tmp_path):
    (tmp_path / 'images').mkdir()
    (tmp_path / 'masks').mkdir()
    img = np.random.default_rng(0).integers(0, 256, (20, 24), np.uint8)
    mask = np.zeros((20, 24), np.uint8)
    mask[5:10, 5:10] = 255
    cv2.imwrite(str(tmp_path / 'images' / 'a.png'), img)
    cv2.imwrite(str(tmp_path / 'masks' / 'a.png'), mask)
    np.save(tmp_path / 'images' / 'b.npy',
            np.full((20, 24), -1000, np.float32))
    np.save(tmp_path / 'masks' / 'b.npy', (mask > 0).astype(np.uint8))
    ds = MedicalSliceFolderDataset(data_root=str(tmp_path), modality='CT',
                                   dataset_name='IMIS-CT',
                                   classes=('background', 'lesion'),
                                   pipeline=PIPELINE)
    assert len(ds) == 2
    a, b = ds.get_data_info(0), ds.get_data_info(1)
    np.testing.assert_allclose(a['gt_img'], img / 255.0, atol=1e-6)
    assert a['gt_seg_map'].max() == 1 and a['img_id'] == 'IMIS-CT/a'
    assert (b['gt_img'] == 0).all()  # -1000 HU under the (40, 400) window
    out = ds[0]
    assert out['inputs'].shape == (1, 20, 24)
    assert out['data_samples'].dataset_name == 'IMIS-CT'
    os.remove(tmp_path / 'masks' / 'b.npy')
    with pytest.raises(FileNotFoundError, match="'b.npy'"):
        MedicalSliceFolderDataset(data_root=str(tmp_path), modality='CT',
                                  dataset_name='x')
    with pytest.raises(ValueError, match='dataset_name is required'):
        MedicalSliceFolderDataset(data_root=str(tmp_path), modality='CT')


def test_packaged_real_slices_load_and_undersample():
    from dunseg.datasets.transforms import KSpaceUndersample
    slices = packaged_sample_slices()
    assert set(slices) == {'ct_small', 'mr_small', 'anatomical', 's1045'}
    expected = dict(ct_small=(128, 128), mr_small=(64, 64), s1045=(256, 256))
    for name, item in slices.items():
        img = item['image']
        assert img.dtype == np.float32 and img.min() == 0 and img.max() == 1
        if name in expected:
            assert img.shape == expected[name]
        assert img.std() > 0.1  # an image, not a constant
        out = KSpaceUndersample(seed=0)(dict(gt_img=img, img_id=name,
                                             modality=item['modality']))
        assert out['kspace_pattern'] == ('radial' if item['modality'] == 'CT'
                                         else 'cartesian')
        assert np.abs(out['img'] - img).mean() > 1e-3
    assert slices['ct_small']['modality'] == 'CT'


def test_configs_of_real_datasets_name_their_data(tmp_path):
    from mmengine.config import Config

    from dunseg.registry import DATASETS
    from dunseg.utils import register_all_modules

    from ..conftest import REPO_ROOT
    register_all_modules()
    for name, dataset in (('acdc', 'ACDCDataset'),
                          ('brats2021', 'BraTS2021Dataset'),
                          ('covid19_ct', 'COVID19CTDataset'),
                          ('hcc_tace_seg', 'HCCTACESegDataset')):
        cfg = Config.fromfile(
            osp.join(REPO_ROOT, f'configs/_base_/datasets/{name}.py'))
        assert cfg.test_dataloader.dataset.type == dataset
        assert cfg.test_evaluator.type == 'MedicalSegMetric'
        assert any(t['type'] == 'KSpaceUndersample' and t.get('seed') == 0
                   for t in cfg.test_dataloader.dataset.pipeline)
        cfg.test_dataloader.dataset.data_root = str(tmp_path / 'missing')
        with pytest.raises(FileNotFoundError, match='expected layout'):
            DATASETS.build(cfg.test_dataloader.dataset)


@pytest.mark.parametrize('kind,size', [('ct', 128), ('mri', 256)])
def test_demo_slices_are_written_and_shipped(tmp_path, kind, size):
    from ..conftest import REPO_ROOT
    script = osp.join(REPO_ROOT, 'demo', 'generate_demo_image.py')
    import importlib.util
    spec = importlib.util.spec_from_file_location('generate_demo', script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = str(tmp_path / f'demo_{kind}.png')
    module.write_medical(out, kind, seed=2024)  # the script's default
    clean = cv2.imread(out, cv2.IMREAD_UNCHANGED)
    degraded = cv2.imread(out.replace('.png', '_undersampled.png'),
                          cv2.IMREAD_UNCHANGED)
    assert clean.shape == degraded.shape == (size, size)
    assert clean.dtype == np.uint8 and clean.max() == 255
    assert np.abs(clean.astype(int) - degraded).mean() > 1
    # the committed demo inputs are these files
    for name in (f'demo_{kind}.png', f'demo_{kind}_undersampled.png'):
        shipped = cv2.imread(osp.join(REPO_ROOT, 'demo', name),
                             cv2.IMREAD_UNCHANGED)
        written = cv2.imread(str(tmp_path / name), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(shipped, written)


@pytest.mark.slow
def test_joint_four_dataset_config_reaches_the_metric(tmp_path):
    """configs/_base_/datasets/vldun_medical4.py on tiny trees of the four
    datasets: ConcatDataset (classes differ) -> collate -> the metric
    reports each dataset with its own classes."""
    from mmengine.config import Config
    from mmengine.dataset import default_collate
    from mmengine.evaluator import Evaluator
    from mmengine.structures import PixelData
    from torch.utils.data import DataLoader

    from dunseg.registry import DATASETS
    from dunseg.utils import register_all_modules

    from ..conftest import REPO_ROOT
    pytest.importorskip('monai')
    root = tmp_path / 'data'
    stem = root / 'ACDC' / 'testing' / 'patient101' / 'patient101_frame01'
    write_nifti(f'{stem}.nii.gz', mri_volume())
    write_nifti(f'{stem}_gt.nii.gz', labels_volume())
    case = root / 'BraTS2021' / 'BraTS2021_00001'
    write_nifti(str(case / 'BraTS2021_00001_t1.nii.gz'), mri_volume(1))
    write_nifti(str(case / 'BraTS2021_00001_seg.nii.gz'),
                labels_volume(values=(4, )))
    hu = np.full(SHAPE, -1000.0, np.float32)
    write_nifti(str(root / 'COVID19CT' / 'ct_scans' / 'c1.nii.gz'), hu)
    write_nifti(str(root / 'COVID19CT' / 'infection_mask' / 'c1.nii.gz'),
                labels_volume(values=(1, )))
    ct = np.full((3, 16, 16), -1000.0, np.float32)
    patient = root / 'HCC-TACE-Seg' / 'HCC_001'
    uids = write_ct_series(str(patient / 'ct'), ct, _uid(7))
    mass = np.zeros((16, 16), np.uint8)
    mass[4:9, 4:9] = 1
    write_seg(str(patient / 'seg' / '1-1.dcm'), _uid(7), uids, ['Mass'],
              [(1, 1, mass)])
    for name, ids in (('BraTS2021', 'BraTS2021_00001'), ('COVID19CT', 'c1'),
                      ('HCC-TACE-Seg', 'HCC_001')):
        (root / name / 'test.txt').write_text(ids + '\n')
    register_all_modules()
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs/_base_/datasets/vldun_medical4.py'))
    for sub in cfg.test_dataloader.dataset.datasets:
        sub.data_root = sub.data_root.replace('data', str(root), 1)
        for t in sub.pipeline:
            if t['type'] == 'ResizeMedical':
                t['scale'] = 32
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    assert len(dataset) == 3 + 2 + 3 + 1  # BraTS: every 2nd slice
    evaluator = Evaluator(cfg.test_evaluator)
    for batch in DataLoader(dataset, batch_size=2,
                            collate_fn=default_collate):
        assert batch['inputs'].shape[1:] == (1, 32, 32)
        for sample in batch['data_samples']:
            sample.pred_mask = PixelData(data=sample.gt_mask.data.clone())
        evaluator.process(batch['data_samples'], batch)
    metrics = evaluator.evaluate(len(dataset))
    for name in ('ACDC', 'BraTS2021', 'COVID19CT', 'HCCTACESeg'):
        assert metrics[f'Dice_{name}'] == 1.0
    assert 'Dice_ACDC/myocardium' in metrics
    assert 'Dice_HCCTACESeg/tumour' in metrics
    assert metrics['Dice'] == 1.0 and metrics['num_images'] == 9


def test_volumes_exported_as_slices_read_back_the_same(tmp_path):
    import importlib.util

    from ..conftest import REPO_ROOT
    script = osp.join(REPO_ROOT, 'tools', 'dataset_converters',
                      'medical_volumes_to_slices.py')
    spec = importlib.util.spec_from_file_location('to_slices', script)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    root = tmp_path / 'data'
    stem = root / 'ACDC' / 'training' / 'patient001' / 'patient001_frame01'
    write_nifti(f'{stem}.nii.gz', mri_volume())
    write_nifti(f'{stem}_gt.nii.gz', labels_volume())
    config = osp.join(REPO_ROOT, 'configs/_base_/datasets/acdc.py')
    readers = tool.main([config, str(tmp_path / 'slices'), '--split',
                         'train', '--data-root', str(root)])
    volumes = ACDCDataset(data_root=str(root / 'ACDC' / 'training'),
                          foreground_only=True)
    reader = dict(readers[0])
    reader.pop('type')
    slices = MedicalSliceFolderDataset(**reader)
    assert len(slices) == len(volumes) == 3
    for i in range(3):
        a, b = volumes.get_data_info(i), slices.get_data_info(i)
        np.testing.assert_array_equal(a['gt_img'], b['gt_img'])
        np.testing.assert_array_equal(a['gt_seg_map'], b['gt_seg_map'])
        assert b['modality'] == 'MRI' and b['classes'] == a['classes']
        assert b['dataset_name'] == 'ACDC'


def test_images_are_read_lazily_and_cached(tmp_path, monkeypatch):
    from dunseg.datasets.medical import base, volumes
    for patient in ('patient001', 'patient002', 'patient003'):
        stem = tmp_path / patient / f'{patient}_frame01'
        write_nifti(f'{stem}.nii.gz', mri_volume())
        write_nifti(f'{stem}_gt.nii.gz', labels_volume())
    reads = []
    real = volumes.load_nifti
    for module in (base, volumes):  # labels: base; image and labels: ACDC
        monkeypatch.setattr(module, 'load_nifti',
                            lambda path: reads.append(path) or real(path))
    ds = ACDCDataset(data_root=str(tmp_path), foreground_only=True,
                     cache_size=2)
    # construction read the three label volumes only
    assert len(reads) == 3 and all(p.endswith('_gt.nii.gz') for p in reads)
    reads.clear()
    for i in range(len(ds)):  # 3 slices per case, in order
        ds.get_data_info(i)
    assert len(reads) == 6  # image + labels once per case
    ds.get_data_info(3)  # patient002: still cached (cache_size=2)
    assert len(reads) == 6
    ds.get_data_info(0)  # patient001 was evicted
    assert len(reads) == 8
    # a damaged image fails when its slice is read, naming the file
    bad = tmp_path / 'patient003' / 'patient003_frame01.nii.gz'
    bad.write_bytes(b'not a nifti file')
    ds = ACDCDataset(data_root=str(tmp_path), foreground_only=True)
    with pytest.raises(IOError, match='patient003_frame01.nii.gz'):
        ds.get_data_info(len(ds) - 1)
