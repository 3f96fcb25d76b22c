import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate

from dunseg.datasets import DEGRADATIONS_5TASK, SyntheticDegradationDataset
from dunseg.registry import DATASETS


def _psnr(a, b):
    return 10 * np.log10(1.0 / np.mean((a - b)**2))


def test_every_type_deterministic_and_degraded():
    ds = SyntheticDegradationDataset(num_samples=14, img_size=(32, 40))
    assert ds.metainfo['degradation_classes'] == DEGRADATIONS_5TASK
    again = SyntheticDegradationDataset(num_samples=14, img_size=(32, 40))
    seen = []
    for i in range(14):
        info = ds.get_data_info(i)
        seen.append(info['degradation'])
        assert info['img'].shape == info['gt_img'].shape == (32, 40, 3)
        assert info['img'].dtype == np.float32
        assert 0 <= info['img'].min() and info['img'].max() <= 1
        assert info['degradation_label'] == DEGRADATIONS_5TASK.index(
            info['degradation'])
        assert info['img_path'] == f'synthetic://train/{i}'
        psnr = _psnr(info['img'], info['gt_img'])
        assert np.isfinite(psnr) and psnr < 40, (info['degradation'], psnr)
        other = again.get_data_info(i)
        assert np.array_equal(info['img'], other['img'])
        assert np.array_equal(info['gt_img'], other['gt_img'])
    assert seen == list(DEGRADATIONS_5TASK) * 2  # balanced, every type


def test_splits_seeds_and_options():
    kw = dict(num_samples=4, img_size=24)
    train = SyntheticDegradationDataset(split='train', **kw).get_data_info(1)
    test = SyntheticDegradationDataset(split='test', **kw).get_data_info(1)
    seed1 = SyntheticDegradationDataset(seed=1, **kw).get_data_info(1)
    assert not np.array_equal(train['gt_img'], test['gt_img'])
    assert not np.array_equal(train['gt_img'], seed1['gt_img'])
    ds = SyntheticDegradationDataset(degradations=('jpeg', 'deblur'),
                                     texture_prob=1.0,
                                     **kw)
    assert ds.metainfo['degradation_classes'] == ('jpeg', 'deblur')
    info = ds.get_data_info(0)
    assert info['degradation'] == 'jpeg' and info['source'].startswith(
        'texture:')
    with pytest.raises(KeyError, match='jpeg'):
        SyntheticDegradationDataset(degradations=('jpeg', ),
                                    degradation_classes=DEGRADATIONS_5TASK)
    with pytest.raises(ValueError, match='split'):
        SyntheticDegradationDataset(split='val')


def test_disjoint_photo_regions():
    ds = SyntheticDegradationDataset(num_samples=1, split='test')
    img = np.zeros((100, 200, 3))
    assert ds._region(img).shape == (100, 60, 3)
    ds.split = 'train'
    assert ds._region(img).shape == (100, 140, 3)
    assert ds._region(np.zeros((300, 100, 3))).shape == (210, 100, 3)


def test_pipeline_and_collate():
    ds = DATASETS.build(
        dict(type='SyntheticDegradationDataset',
             num_samples=7,
             img_size=32,
             pipeline=[
                 dict(type='PairedRandomFlipRot'),
                 dict(type='PackRestorationInputs')
             ]))
    batch = default_collate([ds[i] for i in range(7)])
    assert batch['inputs'].shape == (7, 3, 32, 32)
    samples = batch['data_samples']
    labels = [s.metainfo['degradation_label'] for s in samples]
    assert labels == list(range(7))
    for s, x in zip(samples, batch['inputs']):
        assert s.gt_image.data.shape == x.shape
        assert not torch.equal(s.gt_image.data, x)
        assert s.metainfo['rotation'] in (0, 90, 180, 270)


def test_grey_sources_are_colourised_keeping_their_structure():
    from dunseg.datasets.synthetic_degradation import colourise_grey, is_grey
    rng = np.random.default_rng(0)
    ramp = np.repeat(np.linspace(0, 1, 32, dtype=np.float32)[None], 32, 0)
    grey = np.repeat(ramp[..., None], 3, axis=2)
    assert is_grey(grey)
    colour = colourise_grey(grey, rng)
    assert colour.shape == grey.shape and colour.dtype == np.float32
    assert not is_grey(colour)
    assert colour.min() >= 0 and colour.max() <= 1
    # a duotone: every channel still rises with the grey level
    for c in range(3):
        assert np.corrcoef(colour[..., c].ravel(), ramp.ravel())[0, 1] > 0.9

    def saturation(img):
        return float((img.max(-1) - img.min(-1)).mean())

    kwargs = dict(num_samples=24, img_size=32, degradations=('deblur', ),
                  texture_prob=0.0, sources=('camera', 'text'), seed=3)
    coloured = SyntheticDegradationDataset(**kwargs)
    kept_grey = SyntheticDegradationDataset(colourise=False, **kwargs)
    for i in range(len(coloured)):
        clean = coloured.generate(i)['gt_img']
        assert saturation(clean) > 0.02, coloured.generate(i)['source']
        assert is_grey(kept_grey.generate(i)['gt_img'])


def test_default_sources_do_not_look_degraded():
    from dunseg.datasets.synthetic_degradation import (
        SKIMAGE_SOURCES,
        is_grey,
        load_skimage_sources,
    )
    for name, img in load_skimage_sources(SKIMAGE_SOURCES).items():
        # a pale photograph reads as haze, colourised or not (the duotone
        # maps grey levels monotonically, pale stays pale): the scanned
        # page, mean 0.67, did
        assert img.mean() < 0.6, name
        if is_grey(img):
            continue  # the duotone's random dark end sets how dark it looks
        # a dark colour photograph reads as low light
        assert img.mean() > 0.3, name


def test_blur_uses_the_scene_around_the_crop():
    from dunseg.physics import Blur
    from dunseg.physics.kernels import gaussian_kernel
    kernel = gaussian_kernel(9, (2.0, 2.0), 0.0)
    radius = 4
    kwargs = dict(num_samples=4, img_size=32, degradations=('deblur', ),
                  degradation_params=dict(deblur=dict(kernel=kernel)))

    def blurred_alone(clean):
        x = torch.from_numpy(clean).permute(2, 0, 1)[None]
        with torch.no_grad():
            y = Blur(kernel, padding='circular')(x)[0].permute(1, 2, 0)
        return np.clip(y.numpy(), 0, 1)

    with_context = SyntheticDegradationDataset(**kwargs)
    assert with_context.context_margin('deblur') == radius
    assert with_context.context_margin('derain') == 0
    alone = SyntheticDegradationDataset(blur_context=False, **kwargs)
    assert alone.context_margin('deblur') == 0
    inner = (slice(radius, -radius), slice(radius, -radius))
    for i in range(4):
        sample = with_context.generate(i)
        clean, degraded = sample['gt_img'], sample['img']
        assert clean.shape == degraded.shape == (32, 32, 3)
        reference = blurred_alone(clean)
        # pixels a kernel radius from the border see only the crop ...
        np.testing.assert_allclose(degraded[inner], reference[inner],
                                   atol=1e-5)
        # ... the border pixels see the scene around it, not the far side
        border = np.ones((32, 32), bool)
        border[inner] = False
        assert np.abs(degraded[border] - reference[border]).max() > 1e-3
        sample = alone.generate(i)
        np.testing.assert_allclose(sample['img'], blurred_alone(
            sample['gt_img']), atol=1e-5)


#: sums of img and gt_img of the first samples as drawn before crop_sides
#: existed (8 words, 32x40 crops, blur size 11): the option off must not
#: move a single draw
DRAWS_BEFORE_CROP_SIDES = [
    ('astronaut', 1854.4232984092087, 1857.388645766303),
    ('astronaut', 1914.5394822210073, 300.4515109115491),
    ('brick', 2506.556088387966, 2233.5287933647633),
    ('text', 2034.5801726281643, 2037.1946348696947),
    ('gravel', 225.6905955481343, 2178.155081279576),
    ('text', 1736.1804383993149, 1744.7662334144115),
    ('chelsea', 1836.226699873805, 1826.1030391529202),
    ('texture:smooth', 1692.348229162395, 1692.348229162395),
]
EIGHT_WORDS = ('denoise_25', 'dehaze', 'derain', 'deblur', 'delowlight',
               'jpeg', 'lowres', 'clean')


def test_crop_sides_off_keeps_every_draw():
    ds = SyntheticDegradationDataset(
        num_samples=8, img_size=(32, 40), degradations=EIGHT_WORDS,
        degradation_params=dict(deblur=dict(size=11)))
    assert ds.crop_sides is None
    for i, (source, img_sum, gt_sum) in enumerate(DRAWS_BEFORE_CROP_SIDES):
        sample = ds.generate(i)
        assert sample['source'] == source
        assert sample['img'].astype(np.float64).sum() == pytest.approx(
            img_sum, rel=1e-6)
        assert sample['gt_img'].astype(np.float64).sum() == pytest.approx(
            gt_sum, rel=1e-6)


def test_multiscale_crops_are_deterministic_and_sized():
    kw = dict(num_samples=16, img_size=(32, 40), degradations=EIGHT_WORDS,
              crop_sides=(32, 400))
    ds = SyntheticDegradationDataset(**kw)
    again = SyntheticDegradationDataset(**kw)
    single_scale = SyntheticDegradationDataset(
        num_samples=16, img_size=(32, 40), degradations=EIGHT_WORDS)
    for i in range(16):
        sample, other = ds.generate(i), again.generate(i)
        assert sample['img'].shape == sample['gt_img'].shape == (32, 40, 3)
        assert sample['img'].dtype == np.float32
        assert 0 <= sample['img'].min() and sample['img'].max() <= 1
        assert np.array_equal(sample['img'], other['img'])
        assert np.array_equal(sample['gt_img'], other['gt_img'])
        assert sample['degradation'] == EIGHT_WORDS[i % 8]
        assert not np.array_equal(sample['gt_img'],
                                  single_scale.generate(i)['gt_img'])


def test_multiscale_crops_are_degraded_before_the_resize():
    from dunseg.datasets.synthetic_degradation import (
        load_skimage_sources,
        resize_like_clip_input,
    )

    def noise_std(crop_side):
        ds = SyntheticDegradationDataset(
            num_samples=4, img_size=32, degradations=('denoise_50', ),
            texture_prob=0.0, sources=('astronaut', ),
            crop_sides=(crop_side, crop_side))
        residuals = [ds.generate(i)['img'] - ds.generate(i)['gt_img']
                     for i in range(4)]
        return float(np.std(residuals))

    # sigma 50 (0.196) survives at the crop's own size and averages out
    # when a 320 px crop is shrunk tenfold after being degraded
    at_input_size, shrunk = noise_std(32), noise_std(320)
    assert 0.15 < at_input_size < 0.21
    assert shrunk < at_input_size / 4

    # the clean crop is a resized piece of the photograph: with a square
    # band no larger than the crop, it is the whole band resized
    photo = load_skimage_sources(('astronaut', ))['astronaut']
    ds = SyntheticDegradationDataset(
        num_samples=2, img_size=32, degradations=('clean', ),
        texture_prob=0.0, sources=('astronaut', ), crop_sides=(512, 512))
    ds._region = lambda img: img[100:400, 50:350]
    expected = resize_like_clip_input(photo[100:400, 50:350], (32, 32))
    for i in range(2):
        got = ds.generate(i)['gt_img']
        assert min(np.abs(got - expected).max(),
                   np.abs(got - expected[:, ::-1]).max()) < 1e-5


def test_multiscale_blur_keeps_the_scene_around_the_crop():
    ds = SyntheticDegradationDataset(
        num_samples=3, img_size=32, degradations=('deblur', ),
        texture_prob=0.0, crop_sides=(96, 96),
        degradation_params=dict(deblur=dict(size=11)))
    assert ds.context_margin('deblur') == 5
    for i in range(3):
        sample = ds.generate(i)
        assert sample['img'].shape == (32, 32, 3)
        assert np.abs(sample['img'] - sample['gt_img']).mean() > 1e-3


@pytest.mark.parametrize('crop_sides', [(4, 64), (128, 64), (64, )])
def test_bad_crop_sides_are_named(crop_sides):
    with pytest.raises(ValueError, match='crop_sides'):
        SyntheticDegradationDataset(crop_sides=crop_sides)
