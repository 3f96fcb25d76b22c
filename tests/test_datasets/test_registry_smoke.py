"""Every dataset and transform registered by dunseg, run once.

Each dataset is built from ``DATASETS`` on a tiny tree written to
``tmp_path`` in its published layout (with the tree builders of the other
dataset tests) or with tiny synthetic settings, and loads one sample through
a typical pipeline. Each transform is built from ``TRANSFORMS`` and applied
once to a tiny results dict. The coverage tests fail when a dataset or a
transform is registered without an entry in ``DATASET_CASES`` /
``TRANSFORM_CASES``.
"""
import gc
import importlib
import os
import pkgutil
import random

import cv2
import numpy as np
import pytest
import torch

import dunseg.datasets  # registers datasets and transforms
from dunseg.registry import DATASETS, TRANSFORMS
from dunseg.structures import DunSegDataSample
from dunseg.utils import register_all_modules

from .test_cod import write_pair
from .test_cod_transforms import make_results as cod_results
from .test_istd import (
    GREY_PIPELINE,
    SUBCLASS_TREES,
    make_split_dirs_tree,
    make_split_files_tree,
)

register_all_modules()

COD_TRAIN_PIPELINE = [
    dict(type='LoadCODImageFromFile'),
    dict(type='LoadCODAnnotations', with_edge=True),
    dict(type='CODRandomFlip', prob=0.5),
    dict(type='CODRandomCrop', border=4),
    dict(type='CODRandomRotate', prob=1.0),
    dict(type='CODColorEnhance'),
    dict(type='CODRandomPepper'),
    dict(type='ResizeCOD', scale=(32, 32)),
    dict(type='GenerateEdgeFromMask', width=3),
    dict(type='PackCODInputs'),
]
COD_TEST_PIPELINE = [
    dict(type='LoadCODImageFromFile'),
    dict(type='ResizeCOD', scale=(32, 32)),
    dict(type='LoadCODAnnotations', with_edge=False),
    dict(type='PackCODInputs'),
]
RESTORATION_TRAIN_PIPELINE = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='PairedRandomCrop', crop_size=16),
    dict(type='PairedRandomFlipRot'),
    dict(type='Degrade'),
    dict(type='PackRestorationInputs'),
]
RESTORATION_TEST_PIPELINE = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='CenterCropToMultiple', base=16),
    dict(type='Degrade'),
    dict(type='PackRestorationInputs'),
]
MEDICAL_PIPELINE = [
    dict(type='ResizeMedical', scale=(16, 16)),
    dict(type='KSpaceUndersample', seed=0),
    dict(type='PackMedicalInputs'),
]


def png(path, value=100, size=(20, 24)):
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    img = np.full(size + (3, ), value, np.uint8)
    img[0, 0] = (value + 7) % 256  # not constant
    assert cv2.imwrite(str(path), img)


# ---- datasets: each returns the config of a tiny instance -----------------

def istd(dataset_type, **tree):

    def make(tmp_path):
        if tree:
            root = make_split_files_tree(tmp_path / 'data', num_train=1,
                                         num_test=1, **tree)
        else:
            root = make_split_dirs_tree(tmp_path / 'data', num_train=1,
                                        num_test=1)
        return dict(type=dataset_type, data_root=root, split='train',
                    pipeline=GREY_PIPELINE)

    return make


def run_layout_tree(tmp_path):
    train = tmp_path / 'TrainDataset'
    write_pair(train / 'Imgs', train / 'GT', 'camourflage_00000',
               edge_dir=train / 'Edge')
    camo = tmp_path / 'TestDataset' / 'CAMO'
    write_pair(camo / 'Imgs', camo / 'GT', 'camo_0', size=(30, 20))
    return tmp_path


def cod_dataset(tmp_path):
    root = run_layout_tree(tmp_path)
    return dict(type='CODDataset', data_root=str(root / 'TrainDataset'),
                edge_dir='Edge', pipeline=COD_TRAIN_PIPELINE)


def cod10k_dataset(tmp_path):
    root = tmp_path / 'COD10K-v3'
    write_pair(root / 'Test' / 'Image', root / 'Test' / 'GT_Object',
               'COD10K-CAM-1-Aquatic-1-BatFish-1',
               edge_dir=root / 'Test' / 'GT_Edge')
    return dict(type='COD10KDataset', data_root=str(root), split='test',
                pipeline=COD_TEST_PIPELINE)


def degraded_cod_test_sets(tmp_path):
    root = run_layout_tree(tmp_path)
    return dict(type='DegradedCODTestSets', kind='lowres', levels=('light', ),
                sets=('CAMO', ), data_root=str(root / 'TestDataset'),
                pipeline=COD_TEST_PIPELINE)


def image_mask_folder(tmp_path):
    write_pair(tmp_path / 'PCOD-LQ' / 'images', tmp_path / 'PCOD-LQ' /
               'masks', 'a', img_ext='.png')
    return dict(type='ImageMaskFolderDataset',
                img_dir=str(tmp_path / 'PCOD-LQ' / 'images'),
                mask_dir=str(tmp_path / 'PCOD-LQ' / 'masks'),
                pipeline=COD_TEST_PIPELINE)


def allinone_restoration(tmp_path):
    """Train/Denoise + Train/Derain/{rainy,gt} of the PromptIR layout."""
    png(tmp_path / 'Train/Denoise/00001.bmp', 10)
    png(tmp_path / 'Train/Derain/rainy/rain-1.png', 101)
    png(tmp_path / 'Train/Derain/gt/norain-1.png', 51)
    return dict(type='AllInOneRestorationDataset', data_root=str(tmp_path),
                tasks=('denoise_15', 'derain'), split='train',
                repeats=dict(derain=1), pipeline=RESTORATION_TRAIN_PIPELINE)


def denoise_test(tmp_path):
    png(tmp_path / 'test/denoise/bsd68/3096.jpg', 90, size=(33, 35))
    return dict(type='DenoiseTestDataset', data_root=str(tmp_path), sigma=25,
                pipeline=RESTORATION_TEST_PIPELINE)


def paired_images(tmp_path):
    png(tmp_path / 'test/derain/Rain100L/input/1.png', 120)
    png(tmp_path / 'test/derain/Rain100L/target/1.png', 20)
    return dict(type='PairedImageDataset', data_root=str(tmp_path),
                pipeline=RESTORATION_TEST_PIPELINE)


def medical_helpers():
    from . import test_medical_datasets
    return test_medical_datasets


def acdc(tmp_path):
    m = medical_helpers()
    stem = tmp_path / 'patient001' / 'patient001_frame01'
    m.write_nifti(f'{stem}.nii.gz', m.mri_volume())
    m.write_nifti(f'{stem}_gt.nii.gz', m.labels_volume())
    return dict(type='ACDCDataset', data_root=str(tmp_path),
                foreground_only=True, pipeline=MEDICAL_PIPELINE)


def brats(tmp_path):
    m = medical_helpers()
    case = 'BraTS2021_00000'
    m.write_nifti(str(tmp_path / case / f'{case}_t1.nii.gz'), m.mri_volume())
    m.write_nifti(str(tmp_path / case / f'{case}_seg.nii.gz'),
                  m.labels_volume(values=(1, 2, 4)))
    return dict(type='BraTS2021Dataset', data_root=str(tmp_path),
                foreground_only=True, pipeline=MEDICAL_PIPELINE)


def covid_ct(tmp_path):
    m = medical_helpers()
    hu = np.full(m.SHAPE, -1000.0, np.float32)
    hu[2:10, 2:8] = 40.0
    m.write_nifti(str(tmp_path / 'ct_scans' / 'coronacases_org_001.nii'), hu)
    m.write_nifti(str(tmp_path / 'infection_mask' / 'coronacases_001.nii'),
                  m.labels_volume(values=(1, )))
    (tmp_path / 'metadata.csv').write_text(
        'ct_scan,lung_mask,infection_mask,lung_and_infection_mask\n'
        '../input/covid19-ct-scans/ct_scans/coronacases_org_001.nii,x,'
        '../input/covid19-ct-scans/infection_mask/coronacases_001.nii,y\n')
    return dict(type='COVID19CTDataset', data_root=str(tmp_path),
                foreground_only=True, pipeline=MEDICAL_PIPELINE)


def hcc_tace_seg(tmp_path):
    """A CT DICOM series and its DICOM SEG, as TCIA ships them."""
    m = medical_helpers()
    hu = np.full((2, 16, 16), -100.0, np.float32)
    hu[:, 0, :] = -1000.0  # air: the volume is in Hounsfield units
    series_uid = m._uid(1)
    patient = tmp_path / 'HCC_001' / 'study'
    ct_uids = m.write_ct_series(str(patient / '2.000-PORTAL'), hu,
                                series_uid)
    mass = np.zeros((16, 16), np.uint8)
    mass[5:8, 5:8] = 1
    m.write_seg(str(patient / '300.000-Segmentation' / '1-1.dcm'),
                series_uid, ct_uids, ['Liver', 'Mass'], [(2, 1, mass)])
    return dict(type='HCCTACESegDataset', data_root=str(tmp_path),
                foreground_only=True, pipeline=MEDICAL_PIPELINE)


def medical_slice_folder(tmp_path):
    img = np.random.default_rng(0).integers(0, 256, (20, 24), np.uint8)
    mask = np.zeros((20, 24), np.uint8)
    mask[5:10, 5:10] = 255
    os.makedirs(tmp_path / 'images')
    os.makedirs(tmp_path / 'masks')
    cv2.imwrite(str(tmp_path / 'images' / 'a.png'), img)
    cv2.imwrite(str(tmp_path / 'masks' / 'a.png'), mask)
    return dict(type='MedicalSliceFolderDataset', data_root=str(tmp_path),
                modality='CT', dataset_name='IMIS-CT',
                classes=('background', 'lesion'), pipeline=MEDICAL_PIPELINE)


def synthetic(cfg):
    return lambda tmp_path: dict(cfg)


#: name: (config of a tiny instance from tmp_path, expected inputs shape)
DATASET_CASES = {
    'ISTDDataset': (istd('ISTDDataset'), (1, 24, 32)),
    'SIRSTAugDataset': (istd('SIRSTAugDataset'), (1, 24, 32)),
    'NUDTSIRSTDataset': (istd('NUDTSIRSTDataset', **SUBCLASS_TREES[
        DATASETS.get('NUDTSIRSTDataset')]), (1, 24, 32)),
    'IRSTD1kDataset': (istd('IRSTD1kDataset', **SUBCLASS_TREES[
        DATASETS.get('IRSTD1kDataset')]), (1, 24, 32)),
    'NUAASIRSTDataset': (istd('NUAASIRSTDataset', **SUBCLASS_TREES[
        DATASETS.get('NUAASIRSTDataset')]), (1, 24, 32)),
    'SyntheticSIRSTDataset': (synthetic(dict(
        type='SyntheticSIRSTDataset', num_samples=2, img_size=(32, 32),
        target_size_range=(1, 5), pipeline=[
            dict(type='RandomTranspose', prob=1.0),
            dict(type='PackISTDInputs')])), (1, 32, 32)),
    'CODDataset': (cod_dataset, (3, 32, 32)),
    'COD10KDataset': (cod10k_dataset, (3, 32, 32)),
    'DegradedCODTestSets': (degraded_cod_test_sets, (3, 32, 32)),
    'ImageMaskFolderDataset': (image_mask_folder, (3, 32, 32)),
    'SyntheticCODDataset': (synthetic(dict(
        type='SyntheticCODDataset', num_samples=2, img_size=(32, 32),
        degradation=dict(kind='haze', level='medium'),
        pipeline=[dict(type='PackCODInputs')])), (3, 32, 32)),
    'AllInOneRestorationDataset': (allinone_restoration, (3, 16, 16)),
    'DenoiseTestDataset': (denoise_test, (3, 32, 32)),
    'PairedImageDataset': (paired_images, (3, 16, 16)),
    'SyntheticDegradationDataset': (synthetic(dict(
        type='SyntheticDegradationDataset', num_samples=2, img_size=32,
        pipeline=[dict(type='PairedRandomFlipRot'),
                  dict(type='PackRestorationInputs')])), (3, 32, 32)),
    'ACDCDataset': (acdc, (1, 16, 16)),
    'BraTS2021Dataset': (brats, (1, 16, 16)),
    'COVID19CTDataset': (covid_ct, (1, 16, 16)),
    'HCCTACESegDataset': (hcc_tace_seg, (1, 16, 16)),
    'MedicalSliceFolderDataset': (medical_slice_folder, (1, 16, 16)),
    'SyntheticPhantomDataset': (synthetic(dict(
        type='SyntheticPhantomDataset', num_samples=2, img_size=32,
        pipeline=MEDICAL_PIPELINE)), (1, 16, 16)),
    # the slices pydicom and nibabel ship (unlabelled: restoration only)
    'PackagedRealSliceDataset': (synthetic(dict(
        type='PackagedRealSliceDataset', num_samples=2, img_size=32, seed=0,
        pipeline=MEDICAL_PIPELINE)), (1, 16, 16)),
}


# ---- transforms: each returns the results dict it is applied to -----------

def istd_files(tmp_path):
    root = make_split_dirs_tree(tmp_path / 'data', num_train=1, num_test=0)
    name = 'trainval_000.png'
    return dict(img_path=os.path.join(root, 'trainval', 'images', name),
                seg_map_path=os.path.join(root, 'trainval', 'masks', name))


def istd_loaded(tmp_path):
    return TRANSFORMS.build(dict(type='LoadISTDAnnotations'))(
        TRANSFORMS.build(dict(type='LoadISTDImageFromFile'))(
            istd_files(tmp_path)))


def cod_files(tmp_path):
    write_pair(tmp_path / 'Imgs', tmp_path / 'GT', 'a',
               edge_dir=tmp_path / 'Edge')
    return dict(img_path=str(tmp_path / 'Imgs' / 'a.jpg'),
                seg_map_path=str(tmp_path / 'GT' / 'a.png'),
                edge_path=str(tmp_path / 'Edge' / 'a.png'))


def cod_image_loaded(tmp_path):
    return TRANSFORMS.build(dict(type='LoadCODImageFromFile'))(
        cod_files(tmp_path))


def paired_files(tmp_path):
    png(tmp_path / 'degraded.png', 120)
    png(tmp_path / 'clean.png', 20)
    return dict(img_path=str(tmp_path / 'degraded.png'),
                gt_path=str(tmp_path / 'clean.png'))


def paired(tmp_path):
    gt = np.random.default_rng(0).random((20, 18, 3)).astype(np.float32)
    return dict(img=gt * 0.5, gt_img=gt.copy(), img_path='a', gt_path='b',
                img_shape=(20, 18), degradation='derain',
                degradation_label=0)


def clean_only(tmp_path):
    return dict(gt_img=np.full((16, 16, 3), 0.5, np.float32),
                gt_path='c.png', degradation='denoise_25', seed=3)


def medical(tmp_path):
    from .test_medical_transforms import medical_results
    return medical_results(size=(32, 40))


def medical_undersampled(tmp_path):
    return TRANSFORMS.build(dict(type='KSpaceUndersample', seed=0))(
        medical(tmp_path))


def medical_file(tmp_path):
    img = np.random.default_rng(0).integers(0, 256, (12, 10), np.uint8)
    cv2.imwrite(str(tmp_path / 'slice.png'), img)
    return dict(img_path=str(tmp_path / 'slice.png'))


def shape_of(key, *shape):
    return lambda out: tuple(out[key].shape) == shape


def packed(*shape):
    return lambda out: (tuple(out['inputs'].shape) == shape and isinstance(
        out['data_samples'], DunSegDataSample))


#: name: (config, results from tmp_path, check of the output)
TRANSFORM_CASES = {
    # ISTD
    'LoadISTDImageFromFile': (dict(type='LoadISTDImageFromFile'), istd_files,
                              shape_of('img', 24, 32, 1)),
    'LoadISTDAnnotations': (
        dict(type='LoadISTDAnnotations'),
        lambda tmp: TRANSFORMS.build(dict(type='LoadISTDImageFromFile'))(
            istd_files(tmp)), shape_of('gt_seg_map', 24, 32)),
    'ResizeISTD': (dict(type='ResizeISTD', scale=(16, 16)), istd_loaded,
                   shape_of('img', 16, 16, 1)),
    'RandomTranspose': (dict(type='RandomTranspose', prob=1.0), istd_loaded,
                        shape_of('gt_seg_map', 32, 24)),
    'PackISTDInputs': (dict(type='PackISTDInputs'), istd_loaded,
                       packed(1, 24, 32)),
    # COD
    'LoadCODImageFromFile': (dict(type='LoadCODImageFromFile'), cod_files,
                             shape_of('img', 24, 40, 3)),
    'LoadCODAnnotations': (dict(type='LoadCODAnnotations', with_edge=True),
                           cod_image_loaded, shape_of('gt_edge_map', 24, 40)),
    'CODRandomFlip': (dict(type='CODRandomFlip', prob=1.0),
                      lambda tmp: cod_results(), shape_of('img', 40, 48, 3)),
    'CODRandomCrop': (dict(type='CODRandomCrop', border=4),
                      lambda tmp: cod_results(),
                      lambda out: out['img'].shape[:2] == out[
                          'gt_seg_map'].shape),
    'CODRandomRotate': (dict(type='CODRandomRotate', prob=1.0),
                        lambda tmp: cod_results(),
                        shape_of('gt_seg_map', 40, 48)),
    'CODColorEnhance': (dict(type='CODColorEnhance'),
                        lambda tmp: cod_results(), shape_of('img', 40, 48, 3)),
    'CODRandomPepper': (dict(type='CODRandomPepper'),
                        lambda tmp: cod_results(),
                        shape_of('gt_seg_map', 40, 48)),
    'ResizeCOD': (dict(type='ResizeCOD', scale=(32, 32)),
                  lambda tmp: cod_results(), shape_of('img', 32, 32, 3)),
    'GenerateEdgeFromMask': (dict(type='GenerateEdgeFromMask', width=3,
                                  overwrite=True), lambda tmp: cod_results(),
                             shape_of('gt_edge_map', 40, 48)),
    'CODDegrade': (dict(type='CODDegrade', kind='haze', level='light',
                        seed=0), lambda tmp: cod_results(),
                   lambda out: out['degradation'] == 'haze' and out[
                       'gt_img'].shape == out['img'].shape),
    'PackCODInputs': (dict(type='PackCODInputs'), lambda tmp: cod_results(),
                      packed(3, 40, 48)),
    # restoration
    'LoadPairedImageFromFile': (dict(type='LoadPairedImageFromFile'),
                                paired_files, shape_of('gt_img', 20, 24, 3)),
    'PairedRandomCrop': (dict(type='PairedRandomCrop', crop_size=8), paired,
                         shape_of('gt_img', 8, 8, 3)),
    'PairedRandomFlipRot': (dict(type='PairedRandomFlipRot'), paired,
                            lambda out: out['img'].shape == out[
                                'gt_img'].shape),
    'CenterCropToMultiple': (dict(type='CenterCropToMultiple', base=8),
                             paired, shape_of('img', 16, 16, 3)),
    'Degrade': (dict(type='Degrade'), clean_only,
                lambda out: out['degradation_label'] == 1 and out[
                    'img'].shape == (16, 16, 3)),
    'DegradeObservation': (
        dict(type='DegradeObservation', degradation='denoise_25', seed=0),
        lambda tmp: dict(img=np.full((16, 16, 1), 0.5, np.float32),
                         sample_idx=0),
        lambda out: (out['gt_img'] == 0.5).all() and out[
            'img'].shape == (16, 16, 1) and out['degradation'] ==
        'denoise_25' and not np.array_equal(out['img'], out['gt_img'])),
    'PackRestorationInputs': (
        dict(type='PackRestorationInputs'),
        lambda tmp: TRANSFORMS.build(dict(type='Degrade'))(clean_only(tmp)),
        packed(3, 16, 16)),
    # medical
    'LoadMedicalSliceFromFile': (dict(type='LoadMedicalSliceFromFile'),
                                 medical_file, shape_of('img', 12, 10)),
    'ResizeMedical': (dict(type='ResizeMedical', scale=(16, 16)), medical,
                      shape_of('gt_seg_map', 16, 16)),
    'KSpaceUndersample': (dict(type='KSpaceUndersample', seed=0), medical,
                          shape_of('img', 32, 40)),
    'PackMedicalInputs': (dict(type='PackMedicalInputs'),
                          medical_undersampled, packed(1, 32, 40)),
}


def registered(registry):
    # every module of the package, also those no __init__ imports yet
    for info in pkgutil.walk_packages(dunseg.datasets.__path__,
                                      'dunseg.datasets.'):
        importlib.import_module(info.name)
    return {name for name, cls in registry.module_dict.items()
            if cls.__module__.startswith('dunseg')}


@pytest.mark.parametrize('registry,cases,table,count', [
    (DATASETS, DATASET_CASES, 'DATASET_CASES', 21),
    (TRANSFORMS, TRANSFORM_CASES, 'TRANSFORM_CASES', 26),
], ids=['datasets', 'transforms'])
def test_every_registered_component_has_a_smoke_entry(registry, cases, table,
                                                      count):
    names = registered(registry)
    assert len(names) >= count
    missing = names - set(cases)
    assert not missing, (
        f'{sorted(missing)} registered in {registry.name.upper()}S without a '
        f'smoke entry: add a tiny case to {table} in '
        'tests/test_datasets/test_registry_smoke.py (the fast test tier must '
        'load every dataset and apply every transform)')
    stale = set(cases) - names
    assert not stale, f'{sorted(stale)} are no longer registered: remove them'


@pytest.fixture(autouse=True, scope='module')
def frozen_heap():
    """mmengine's BaseDataset runs gc.collect() when it serializes its data
    list: with torch and every dunseg module imported that walks some
    hundred thousand objects (~0.4 s per dataset). Freezing the objects
    alive now leaves them out of those collections."""
    gc.freeze()
    yield
    gc.unfreeze()


def seed_everything(seed=0):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def assert_finite(value, what):
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        assert torch.isfinite(value).all(), what
    elif isinstance(value, np.ndarray) and np.issubdtype(value.dtype,
                                                         np.floating):
        assert np.isfinite(value).all(), what


@pytest.mark.parametrize('name', sorted(DATASET_CASES))
def test_dataset_loads_one_sample(name, tmp_path):
    make, shape = DATASET_CASES[name]
    cfg = make(tmp_path)
    seed_everything()
    dataset = DATASETS.build(cfg)
    if name != 'DegradedCODTestSets':  # a ConcatDataset of CODDatasets
        assert isinstance(dataset, DATASETS.module_dict[name])
    assert len(dataset) >= 1
    item = dataset[0]
    inputs, sample = item['inputs'], item['data_samples']
    assert isinstance(sample, DunSegDataSample)
    assert tuple(inputs.shape) == shape, tuple(inputs.shape)
    assert inputs.dtype == torch.float32
    assert_finite(inputs, f'{name}: non-finite inputs')
    targets = [key for key in ('gt_mask', 'gt_image') if key in sample]
    assert targets, f'{name}: the sample has no ground truth'
    for key in targets:
        assert_finite(getattr(sample, key).data, f'{name}: {key}')


@pytest.mark.parametrize('name', sorted(TRANSFORM_CASES))
def test_transform_applies_once(name, tmp_path):
    cfg, make_results, check = TRANSFORM_CASES[name]
    results = make_results(tmp_path)
    transform = TRANSFORMS.build(dict(cfg))
    assert isinstance(transform, TRANSFORMS.module_dict[name])
    seed_everything()
    out = transform(results)
    assert isinstance(out, dict)
    for key, value in out.items():
        assert_finite(value, f'{name}: non-finite {key}')
    if 'inputs' in out:
        assert_finite(out['inputs'], f'{name}: non-finite inputs')
    assert check(out), {k: getattr(v, 'shape', v) for k, v in out.items()
                        if not isinstance(v, DunSegDataSample)}
