"""COD transforms: RUN's augmentations, edges from masks, NUN's
degradations and packing."""
import numpy as np
import pytest
import torch
from PIL import Image, ImageEnhance

from dunseg.datasets.transforms.cod import (
    CODColorEnhance,
    CODDegrade,
    CODRandomCrop,
    CODRandomFlip,
    CODRandomPepper,
    CODRandomRotate,
    GenerateEdgeFromMask,
    PackCODInputs,
    ResizeCOD,
    degrade_cod_image,
    enhance_colour,
    mask_boundary,
)


def make_results(h=40, w=48, seed=0):
    rng = np.random.default_rng(seed)
    img = rng.uniform(0, 1, (h, w, 3)).astype(np.float32)
    mask = np.zeros((h, w), np.uint8)
    mask[10:25, 12:30] = 1
    # Paint the object into the image so alignment can be checked.
    img[mask > 0] = 1.0
    return dict(img=img, gt_seg_map=mask, gt_edge_map=mask_boundary(mask, 3),
                ori_shape=(h, w), img_shape=(h, w), img_path='x/a.jpg')


def assert_aligned(results, fraction=0.97):
    white = np.all(results['img'] > 0.95, axis=2)
    mask = results['gt_seg_map'].astype(bool)
    # The object's pixels are white in the image too.
    assert white[mask].mean() > fraction


def test_mask_boundary_band():
    mask = np.zeros((20, 20), np.uint8)
    mask[5:15, 5:15] = 1
    edge = mask_boundary(mask, 5)
    # Pixels within 2 px of the contour on either side, nothing else.
    assert edge[10, 3:7].tolist() == [1, 1, 1, 1]
    assert edge[10, 2] == 0 and edge[10, 7] == 0 and edge[10, 10] == 0
    assert mask_boundary(np.ones((8, 8), np.uint8), 3).sum() == 0
    assert mask_boundary(np.zeros((8, 8), np.uint8), 3).sum() == 0
    with pytest.raises(ValueError, match='odd'):
        mask_boundary(mask, 4)


def test_generate_edge_keeps_loaded_edges():
    results = make_results()
    loaded = np.zeros_like(results['gt_edge_map'])
    results['gt_edge_map'] = loaded
    assert GenerateEdgeFromMask()(dict(results))['gt_edge_map'] is loaded
    out = GenerateEdgeFromMask(width=3, overwrite=True)(dict(results))
    assert np.array_equal(out['gt_edge_map'],
                          mask_boundary(results['gt_seg_map'], 3))


def test_flip_crop_rotate_keep_image_and_maps_aligned():
    np.random.seed(0)
    results = make_results()
    results['gt_img'] = results['img'].copy()
    out = CODRandomFlip(prob=1.0)(dict(results))
    assert out['flip'] and np.array_equal(out['gt_seg_map'],
                                          results['gt_seg_map'][:, ::-1])
    assert np.array_equal(out['img'], out['gt_img'])
    assert_aligned(out)
    out = CODRandomCrop(border=10)(dict(results))
    h, w = out['img'].shape[:2]
    assert 30 <= h < 40 and 38 <= w < 48
    assert out['gt_seg_map'].shape == out['gt_edge_map'].shape == (h, w)
    top, left = out['crop_bbox'][:2]
    # A centred window: the offsets are half of what was removed.
    assert top == (40 - h) >> 1 and left == (48 - w) >> 1
    assert_aligned(out)
    np.random.seed(3)
    out = CODRandomRotate(prob=1.0, max_angle=15)(dict(results))
    assert out['rotation'] != 0 and -15 <= out['rotation'] < 15
    assert not np.array_equal(out['gt_seg_map'], results['gt_seg_map'])
    assert set(np.unique(out['gt_seg_map'])) <= {0, 1}
    assert_aligned(out, fraction=0.85)  # bicubic image, nearest mask
    assert out['img'].shape == (40, 48, 3) and out['img'].max() <= 1.0
    out = CODRandomRotate(prob=0.0)(dict(results))
    assert out['rotation'] == 0 and out['img'] is results['img']


def test_colour_enhance_matches_pil():
    rng = np.random.default_rng(1)
    u8 = rng.integers(0, 256, (16, 20, 3), dtype=np.uint8)
    factors = dict(brightness=1.3, contrast=0.7, colour=1.6, sharpness=2.0)
    pil = Image.fromarray(u8)
    pil = ImageEnhance.Brightness(pil).enhance(factors['brightness'])
    pil = ImageEnhance.Contrast(pil).enhance(factors['contrast'])
    pil = ImageEnhance.Color(pil).enhance(factors['colour'])
    pil = ImageEnhance.Sharpness(pil).enhance(factors['sharpness'])
    ours = enhance_colour(u8.astype(np.float32) / 255, **factors) * 255
    # PIL rounds to 8 bit after every step; we stay in float.
    assert np.abs(ours - np.asarray(pil, np.float32)).mean() < 1.5
    np.random.seed(0)
    out = CODColorEnhance()(make_results())
    assert all(0 <= v <= 3 for v in out['colour_enhance'].values())
    assert out['img'].dtype == np.float32


def test_pepper_and_resize():
    np.random.seed(0)
    results = make_results(100, 100)
    out = CODRandomPepper(ratio=0.01)(dict(results))
    changed = (out['gt_seg_map'] != results['gt_seg_map']).sum()
    assert 0 < changed <= 100
    out = ResizeCOD(scale=(24, 16))(dict(results))
    assert out['img'].shape == (16, 24, 3)
    assert out['gt_seg_map'].shape == (16, 24)
    assert set(np.unique(out['gt_seg_map'])) <= {0, 1}
    assert out['scale_factor'] == (24 / 100, 16 / 100)


@pytest.mark.parametrize('kind', ['lowlight', 'haze', 'lowres', 'combined'])
def test_degradations_deterministic_and_graded(kind):
    rng = np.random.default_rng(0)
    # A textured image: low resolution must remove detail.
    clean = np.clip(
        0.5 + 0.3 * np.sin(np.arange(64)[:, None] / 1.5) *
        np.cos(np.arange(64)[None] / 2.0), 0, 1)
    clean = np.repeat(clean[..., None], 3, 2).astype(np.float32)
    clean[..., 0] *= rng.uniform(0.8, 1.0)
    errors = []
    for level in ('light', 'medium', 'heavy'):
        per_seed = []
        for seed in range(4):
            out = degrade_cod_image(clean, kind, level,
                                    np.random.default_rng(seed))
            assert out.shape == clean.shape and out.dtype == np.float32
            assert 0 <= out.min() and out.max() <= 1
            per_seed.append(np.abs(out - clean).mean())
        errors.append(np.mean(per_seed))
    assert errors[0] < errors[1] < errors[2], errors
    t = CODDegrade(kind=kind, level='medium', seed=3)
    a = t(dict(img=clean, img_path='d/img_1.jpg'))
    b = t(dict(img=clean.copy(), img_path='other/img_1.jpg'))
    c = t(dict(img=clean.copy(), img_path='d/img_2.jpg'))
    assert np.array_equal(a['img'], b['img'])  # same file name, same pixels
    assert not np.array_equal(a['img'], c['img'])
    assert a['gt_img'] is clean and a['degradation'] == kind
    assert a['degradation_level'] == 'medium'


def test_degrade_errors_and_skip():
    with pytest.raises(ValueError, match='kind must be'):
        CODDegrade(kind='snow')
    with pytest.raises(ValueError, match='level must be'):
        CODDegrade(level='extreme')
    results = make_results()
    results['gt_img'] = results['img']
    assert CODDegrade(seed=0)(dict(results))['img'] is results['img']


def test_pack_cod_inputs():
    results = make_results()
    results['gt_img'] = results['img'].copy()
    results['dataset_name'] = 'CAMO'
    packed = PackCODInputs()(dict(results))
    sample = packed['data_samples']
    assert packed['inputs'].shape == (3, 40, 48)
    assert sample.gt_mask.data.dtype == torch.uint8
    assert sample.gt_edge.data.shape == (1, 40, 48)
    assert sample.gt_image.data.shape == (3, 40, 48)
    assert sample.dataset_name == 'CAMO'
    bad = dict(results, gt_seg_map=np.zeros((5, 5), np.uint8))
    with pytest.raises(ValueError, match='gt_seg_map.*shape'):
        PackCODInputs()(bad)
    bad = dict(results, gt_seg_map=results['gt_seg_map'] * 255)
    with pytest.raises(ValueError, match='binarises'):
        PackCODInputs()(bad)
    nan_img = results['img'].copy()
    nan_img[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="x/a.jpg.*NaN"):
        PackCODInputs()(dict(results, img=nan_img))
    bad = dict(results, img=(results['img'] * 255).astype(np.uint8))
    with pytest.raises(TypeError, match='float32'):
        PackCODInputs()(bad)
