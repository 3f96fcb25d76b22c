"""Real-slice training crops from files that pydicom / nibabel ship
(dunseg/datasets/medical/packaged.py), their k-space patterns and the
segmentation loss that skips them."""
import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate

from dunseg.models.architectures.medical_segmentor import MultiClassSegMixin
from dunseg.registry import DATASETS, MODELS
from dunseg.utils import register_all_modules

pytest.importorskip('pydicom', reason='the CT / MR sources are pydicom '
                    'test files')
pytest.importorskip('nibabel', reason='anatomical.nii is a nibabel file')

from dunseg.datasets.medical import (  # noqa: E402
    HELD_OUT_SLICES,
    PACKAGED_SLICE_SOURCES,
    PackagedRealSliceDataset,
    load_packaged_slices,
    packaged_file,
    random_square_crop,
)


class SegLosses(MultiClassSegMixin):
    """The segmentation losses of the joint / medical segmentors."""

    def __init__(self):
        self.seg_head = None
        self.label_spaces = None
        self.seg_losses = [
            MODELS.build(dict(type='CrossEntropyLoss',
                              loss_name='loss_seg_ce')),
            MODELS.build(dict(type='MultiClassDiceLoss',
                              loss_name='loss_seg_dice'))
        ]


PIPELINE = [dict(type='KSpaceUndersample', random_pattern=True),
            dict(type='PackMedicalInputs')]


def available_sources():
    found = []
    for name, (package, file, _) in PACKAGED_SLICE_SOURCES.items():
        try:
            packaged_file(package, file)
        except FileNotFoundError:
            continue
        found.append(name)
    return found


@pytest.mark.parametrize('name', sorted(PACKAGED_SLICE_SOURCES))
def test_every_source_decodes_to_unit_range_slices(name):
    package, file, modality = PACKAGED_SLICE_SOURCES[name]
    try:
        packaged_file(package, file)
    except FileNotFoundError:
        pytest.skip(f'{package} does not ship {file} in this installation')
    slices, got_modality, path = load_packaged_slices(name)
    assert got_modality == modality and path.endswith(file)
    assert slices.ndim == 3 and slices.dtype == np.float32
    assert slices.min() >= 0 and slices.max() <= 1
    # real content, not a blank or saturated frame
    assert 0.05 < slices.mean() < 0.95 and slices.std() > 0.1
    assert min(slices.shape[1:]) >= 32


def test_crops_are_unlabelled_multi_scale_and_seeded():
    register_all_modules()
    sources = available_sources()
    if not sources:
        pytest.skip('none of the packaged slices is installed')
    dataset = PackagedRealSliceDataset(num_samples=6, img_size=32,
                                       sources=sources, seed=3,
                                       pipeline=PIPELINE)
    sample = dataset[0]
    assert tuple(sample['inputs'].shape) == (1, 32, 32)
    data_sample = sample['data_samples']
    assert 'gt_mask' not in data_sample and 'gt_image' in data_sample
    assert data_sample.metainfo['seg_labelled'] is False
    assert data_sample.metainfo['modality'] in ('CT', 'MRI')
    assert data_sample.metainfo['dataset_name'] in ('RealCT', 'RealMRI')
    # the same index gives the same crop with a seed (the mask is new)
    assert torch.equal(dataset[0]['data_samples'].gt_image.data,
                       data_sample.gt_image.data)
    image = np.linspace(0, 1, 100 * 80, dtype=np.float32).reshape(100, 80)
    rng = np.random.default_rng(0)
    small = random_square_crop(image, (16, 16), (0.25, 0.25), rng)
    large = random_square_crop(image, (16, 16), (1.0, 1.0), rng)
    # a quarter-side crop spans a quarter of the intensity ramp's rows
    assert np.ptp(small) < 0.5 * np.ptp(large)


def test_held_out_and_unknown_sources_are_refused():
    for held in HELD_OUT_SLICES:
        with pytest.raises(KeyError, match='held-out test slice'):
            PackagedRealSliceDataset(sources=(held, ))
    with pytest.raises(KeyError, match="unknown source 'brain'"):
        PackagedRealSliceDataset(sources=('brain', ))
    with pytest.raises(ValueError, match='crop_scale'):
        PackagedRealSliceDataset(crop_scale=(0, 1))
    with pytest.raises(KeyError, match='unknown packaged slice source'):
        load_packaged_slices('CT_small.dcm')


def test_random_pattern_draws_both_masks_and_keeps_the_modality():
    from dunseg.datasets.transforms.medical import KSpaceUndersample
    undersample = KSpaceUndersample(random_pattern=True)
    patterns = set()
    for i in range(20):
        results = undersample(dict(gt_img=np.random.rand(32, 32).astype(
            np.float32), modality='CT', img_path=f'x{i}'))
        assert results['modality'] == 'CT'
        patterns.add(results['kspace_pattern'])
    assert patterns == {'radial', 'cartesian'}
    fixed = KSpaceUndersample(random_pattern=True, seed=0)
    first = fixed(dict(gt_img=np.ones((32, 32), np.float32), modality='MRI',
                       img_id='a'))
    again = fixed(dict(gt_img=np.ones((32, 32), np.float32), modality='MRI',
                       img_id='a'))
    assert first['kspace_pattern'] == again['kspace_pattern']
    assert np.array_equal(first['kspace_mask'], again['kspace_mask'])


def test_joins_the_phantoms_and_the_seg_loss_skips_unlabelled_samples():
    register_all_modules()
    sources = available_sources()
    if not sources:
        pytest.skip('none of the packaged slices is installed')
    dataset = DATASETS.build(dict(type='ConcatDataset', datasets=[
        dict(type='SyntheticPhantomDataset', num_samples=2, img_size=32,
             seed=0, split='val',
             pipeline=[dict(type='KSpaceUndersample', seed=0),
                       dict(type='PackMedicalInputs')]),
        dict(type='PackagedRealSliceDataset', num_samples=2, img_size=32,
             sources=sources, seed=0, pipeline=PIPELINE),
    ]))
    batch = default_collate([dataset[i] for i in range(4)])
    samples = batch['data_samples']
    assert [s.metainfo.get('seg_labelled', True) for s in samples] == [
        True, True, False, False]
    model = SegLosses()
    torch.manual_seed(0)
    logits = torch.randn(4, 4, 32, 32, requires_grad=True)
    mixed = model.seg_loss(logits, samples)
    labelled = model.seg_loss(logits[:2], samples[:2])
    for name, value in labelled.items():
        assert torch.allclose(mixed[name], value)
    sum(mixed.values()).backward()
    assert logits.grad[2:].abs().sum() == 0  # unlabelled: no gradient
    assert logits.grad[:2].abs().sum() > 0
    none = model.seg_loss(logits, samples[2:] * 2)
    assert all(float(v.detach()) == 0 and v.requires_grad
               for v in none.values())
