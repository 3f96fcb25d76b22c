"""k-space undersampling (VL-DUN's degradation), ResizeMedical and
PackMedicalInputs, checked against numpy FFTs written here."""
import numpy as np
import pytest
import torch

from dunseg.datasets.transforms import (
    MEDICAL_KEYS,
    KSpaceUndersample,
    PackMedicalInputs,
    PairedRandomFlipRot,
    ResizeMedical,
)
from dunseg.physics.undersampling import (
    kspace_operator_from_masks,
    make_kspace_mask,
    stable_seed,
)


def medical_results(modality='MRI', size=(32, 40), img_id='set/case/3',
                    seed=0):
    rng = np.random.default_rng(seed)
    h, w = size
    img = rng.uniform(0, 1, (h, w)).astype(np.float32)
    seg = np.zeros((h, w), np.uint8)
    seg[4:12, 5:15] = 1
    seg[20:26, 20:30] = 3
    return dict(gt_img=img, gt_seg_map=seg, modality=modality,
                dataset_name='set', num_classes=4,
                classes=('background', 'a', 'b', 'c'), img_id=img_id,
                img_path='/data/case.nii.gz', slice_index=3, img_shape=size,
                ori_shape=size)


def numpy_zero_filled(img, centred_mask):
    """Re F^-1(M . F x) with numpy's FFT, independently of KSpaceMask."""
    mask = np.fft.ifftshift(centred_mask)
    return np.real(np.fft.ifft2(mask * np.fft.fft2(img)))


def test_stable_seed_is_fixed_across_processes():
    # BLAKE2b, not Python's salted hash(): these values never change
    assert stable_seed(0, 'phantom/test/3') == 6372584018739753309
    assert stable_seed(1, 'phantom/test/3') == 6533218026553985766
    assert stable_seed(0, 'a') != stable_seed(0, 'b')


@pytest.mark.parametrize('modality', ['CT', 'MRI'])
def test_undersampling_equals_numpy_fft_and_the_modality_pattern(modality):
    results = KSpaceUndersample(modality='auto', acceleration=4,
                                seed=0)(medical_results(modality))
    mask = results['kspace_mask']
    assert mask.shape == (32, 40) and mask.dtype == np.float32
    assert set(np.unique(mask)) <= {0.0, 1.0}
    np.testing.assert_allclose(results['img'],
                               numpy_zero_filled(results['gt_img'], mask),
                               atol=1e-5)
    assert mask[16, 20] == 1  # DC sampled, at (H // 2, W // 2)
    assert 3.0 <= results['kspace_acceleration'] <= 4.5
    if modality == 'MRI':
        # Cartesian: whole columns, the 8 % centre (3 columns) included
        assert results['kspace_pattern'] == 'cartesian'
        assert (mask == mask[:1]).all()
        assert mask[0, 19:22].all()
        assert mask[0].sum() == 10  # round(40 / 4)
    else:
        # radial: spokes through the centre, so sampling is dense near the
        # DC and sparse at high frequencies
        assert results['kspace_pattern'] == 'radial'
        assert not (mask == mask[:1]).all()
        yy, xx = np.mgrid[:32, :40]
        radius = np.hypot(yy - 16, xx - 20)
        assert mask[radius <= 3].mean() > 0.9
        assert mask[radius >= 12].mean() < 0.35
    assert not np.allclose(results['img'], results['gt_img'], atol=1e-3)


def test_test_masks_are_fixed_per_image_and_reproducible():
    t = KSpaceUndersample(modality='MRI', seed=7)
    a = t(medical_results(img_id='ACDC/p1/3'))
    b = t(medical_results(img_id='ACDC/p1/3'))
    c = t(medical_results(img_id='ACDC/p1/4'))
    np.testing.assert_array_equal(a['kspace_mask'], b['kspace_mask'])
    assert not np.array_equal(a['kspace_mask'], c['kspace_mask'])
    assert a['kspace_seed'] == stable_seed(7, 'ACDC/p1/3')
    rebuilt = make_kspace_mask('MRI', (32, 40), 4.0, None, 0.08,
                               seed=a['kspace_seed'])
    np.testing.assert_array_equal(rebuilt, a['kspace_mask'])
    # training (seed=None): a new mask every call, still reproducible
    train = KSpaceUndersample(modality='CT', acceleration=3)
    np.random.seed(0)
    first = train(medical_results('CT'))['kspace_mask']
    second = train(medical_results('CT'))['kspace_mask']
    np.random.seed(0)
    again = train(medical_results('CT'))['kspace_mask']
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, again)


def test_a_forced_pattern_keeps_the_image_modality():
    out = KSpaceUndersample(modality='CT', seed=0)(medical_results('MRI'))
    assert out['kspace_pattern'] == 'radial' and out['modality'] == 'MRI'
    bare = medical_results()
    del bare['modality']
    assert KSpaceUndersample(modality='MRI')(bare)['modality'] == 'MRI'


def test_fixed_number_of_spokes():
    few = KSpaceUndersample('CT', num_spokes=4, seed=0)(
        medical_results('CT', (64, 64)))
    many = KSpaceUndersample('CT', num_spokes=24, seed=0)(
        medical_results('CT', (64, 64)))
    assert few['kspace_mask'].sum() < many['kspace_mask'].sum()
    assert few['kspace_acceleration'] > 8


def test_pack_gives_the_model_contract_and_the_operator_round_trips():
    pack = PackMedicalInputs()
    samples, inputs = [], []
    for i, modality in enumerate(('CT', 'MRI')):
        r = KSpaceUndersample(seed=0)(
            medical_results(modality, img_id=f'x/{i}', seed=i))
        packed = pack(r)
        inputs.append(packed['inputs'])
        samples.append(packed['data_samples'])
    ds = samples[1]
    assert inputs[1].shape == (1, 32, 40) and inputs[1].dtype == torch.float32
    assert ds.gt_image.data.shape == (1, 32, 40)
    assert ds.gt_mask.data.dtype == torch.uint8
    assert ds.gt_mask.data.max() == 3  # class indices, not binary
    assert ds.kspace_mask.data.shape == (1, 32, 40)
    assert ds.modality == 'MRI' and ds.dataset_name == 'set'
    assert ds.num_classes == 4 and ds.kspace_pattern == 'cartesian'
    # the model's data term: the same operator from the stored masks
    op = kspace_operator_from_masks(samples)
    clean = torch.stack([s.gt_image.data for s in samples])
    torch.testing.assert_close(op.AtA(clean), torch.stack(inputs),
                               atol=1e-5, rtol=0)


def test_pack_errors_name_the_problem():
    pack = PackMedicalInputs()
    r = medical_results()
    with pytest.raises(KeyError, match='KSpaceUndersample'):
        pack(dict(r))
    r = KSpaceUndersample(seed=0)(medical_results())
    bad = dict(r, gt_seg_map=r['gt_seg_map'] * 2)
    with pytest.raises(ValueError, match='num_classes is 4'):
        pack(bad)
    with pytest.raises(KeyError, match="'modality'"):
        pack({k: v for k, v in r.items() if k != 'modality'})
    nan = dict(r, img=r['img'].copy())
    nan['img'][0, 0] = np.nan
    with pytest.raises(ValueError, match='NaN'):
        pack(nan)
    with pytest.raises(ValueError, match='before'):
        pack(dict(r, gt_seg_map=r['gt_seg_map'][:, :-1]))
    with pytest.raises(KeyError, match='no modality'):
        KSpaceUndersample()({k: v for k, v in medical_results().items()
                             if k != 'modality'})
    with pytest.raises(ValueError, match='modality must be one of'):
        KSpaceUndersample(modality='PET')


def test_resize_and_flip_come_before_undersampling():
    r = medical_results(size=(24, 48))
    out = ResizeMedical(32, keep_ratio=True)(dict(r))
    assert out['gt_img'].shape == (32, 32)
    # 24x48 fitted into 32x32 is 16x32, padded with background rows
    assert (out['gt_img'][:8] == 0).all()
    assert (out['gt_seg_map'][:8] == 0).all()
    assert set(np.unique(out['gt_seg_map'])) <= {0, 1, 3}
    flipped = PairedRandomFlipRot(keys=MEDICAL_KEYS)(out)
    done = KSpaceUndersample(seed=0)(flipped)
    np.testing.assert_allclose(
        done['img'], numpy_zero_filled(done['gt_img'], done['kspace_mask']),
        atol=1e-5)
    with pytest.raises(RuntimeError, match='before KSpaceUndersample'):
        ResizeMedical(16)(done)


def test_resize_fits_an_already_undersampled_inference_slice():
    """Inference reads the degraded slice into ``img`` with no ``gt_img``;
    the model's working size still applies (the VL-DUN 256x256 configs)."""
    img = np.random.default_rng(0).uniform(0, 1, (24, 48)).astype(np.float32)
    out = ResizeMedical(32, keep_ratio=True)(dict(img=img, img_path='s.png'))
    assert out['img'].shape == (32, 32) and 'gt_img' not in out
    assert (out['img'][:8] == 0).all() and out['img'][8:24].any()
    assert out['scale_factor'] == (32 / 48, 16 / 24)
    with pytest.raises(KeyError, match='s.png'):
        ResizeMedical(32)(dict(img_path='s.png'))


def test_inference_sample_packs_without_ground_truth_or_metadata():
    """An already undersampled slice from a file has only ``img``."""
    img = np.random.default_rng(0).uniform(0, 1, (24, 16)).astype(np.float32)
    out = PackMedicalInputs()(dict(img=img, img_path='slice.png',
                                   modality='CT'))
    assert out['inputs'].shape == (1, 24, 16)
    sample = out['data_samples']
    assert 'gt_image' not in sample and 'gt_mask' not in sample
    assert sample.modality == 'CT' and 'dataset_name' not in sample
    assert PackMedicalInputs.inference_loader['type'] == \
        'LoadMedicalSliceFromFile'
    assert KSpaceUndersample.skip_at_inference


def test_load_medical_slice_reads_images_arrays_dicom_and_nifti(tmp_path):
    import cv2
    import nibabel as nib
    from pydicom.data import get_testdata_file

    from dunseg.datasets.transforms import LoadMedicalSliceFromFile
    load = LoadMedicalSliceFromFile()
    grey = np.arange(12 * 10, dtype=np.uint8).reshape(12, 10)
    cv2.imwrite(str(tmp_path / 'grey.png'), grey)
    cv2.imwrite(str(tmp_path / 'deep.png'), grey.astype(np.uint16) * 257)
    cv2.imwrite(str(tmp_path / 'colour.png'), np.repeat(grey[..., None], 3,
                                                       2))
    for name in ('grey.png', 'deep.png', 'colour.png'):
        out = load(dict(img_path=str(tmp_path / name)))
        assert out['img'].dtype == np.float32 and out['img'].shape == (12, 10)
        np.testing.assert_allclose(out['img'], grey / 255, atol=1e-6)
        assert out['img_shape'] == (12, 10) and 'modality' not in out
    # HU stack: windowed (40, 400), middle slice by default
    hu = np.stack([np.full((8, 8), v, np.float32) for v in (-1000, 40, 240)])
    np.save(tmp_path / 'hu.npy', hu)
    out = load(dict(img_path=str(tmp_path / 'hu.npy')))
    assert out['slice_index'] == 1 and out['num_slices'] == 3
    np.testing.assert_allclose(out['img'], 0.5)
    out = load(dict(img_path=str(tmp_path / 'hu.npy'), slice_index=2))
    np.testing.assert_allclose(out['img'], 1.0)
    with pytest.raises(ValueError, match='3 slice'):
        load(dict(img_path=str(tmp_path / 'hu.npy'), slice_index=3))
    # DICOM: rescaled to HU, the modality from its tag
    out = load(dict(img_path=get_testdata_file('CT_small.dcm')))
    assert out['modality'] == 'CT' and out['img'].shape == (128, 128)
    assert 0 <= out['img'].min() and out['img'].max() <= 1
    assert load(dict(img_path=get_testdata_file('MR_small.dcm')))[
        'modality'] == 'MRI'
    # NIfTI: slices along the third axis, turned as the datasets turn them;
    # MR intensities (not HU although some are below -200) are percentile
    # scaled
    volume = np.random.default_rng(0).uniform(-300, 20000, (6, 5, 4))
    nib.save(nib.Nifti1Image(volume.astype(np.float32), np.eye(4)),
             str(tmp_path / 'mr.nii.gz'))
    out = load(dict(img_path=str(tmp_path / 'mr.nii.gz'), slice_index=0))
    assert out['img'].shape == (5, 6) and out['num_slices'] == 4
    assert out['img'].std() > 0.1
    with pytest.raises(FileNotFoundError, match='missing.png'):
        load(dict(img_path=str(tmp_path / 'missing.png')))
    with pytest.raises(ValueError, match="'img'"):
        LoadMedicalSliceFromFile(key='gt_seg_map')
