"""Tests of the ISTD loading, geometric and packing transforms."""
import cv2
import numpy as np
import pytest
import torch
from mmcv.transforms import RandomFlip as MMCVRandomFlip
from mmcv.transforms import Resize as MMCVResize
from mmengine.structures import PixelData

from dunseg.datasets.transforms import (
    LoadISTDAnnotations,
    LoadISTDImageFromFile,
    PackISTDInputs,
    RandomTranspose,
    ResizeISTD,
)
from dunseg.registry import TRANSFORMS
from dunseg.structures import DunSegDataSample


def _write(path, array):
    assert cv2.imwrite(str(path), array), path
    return str(path)


def _load(img_path, seg_map_path=None, **kwargs):
    results = dict(img_path=img_path, seg_map_path=seg_map_path)
    results = LoadISTDImageFromFile(**kwargs)(results)
    if seg_map_path is not None:
        results = LoadISTDAnnotations()(results)
    return results


@pytest.fixture
def grey_sample(tmp_path):
    """A 40x30 8-bit grey image whose bright pixels are exactly the mask."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 100, (40, 30), dtype=np.uint8)
    mask = np.zeros((40, 30), dtype=np.uint8)
    mask[5:8, 20:22] = 255
    mask[30, 3] = 255
    img[mask > 0] = 250
    return (_write(tmp_path / 'img.png',
                   img), _write(tmp_path / 'mask.png', mask), img, mask)


# ----------------------------------------------------------------------------
# LoadISTDImageFromFile / LoadISTDAnnotations
# ----------------------------------------------------------------------------
def test_load_grey_8bit(grey_sample):
    img_path, mask_path, img, mask = grey_sample
    results = _load(img_path, mask_path)
    assert results['img'].dtype == np.float32
    assert results['img'].shape == (40, 30, 1)
    np.testing.assert_allclose(results['img'][..., 0], img / 255.0, atol=1e-6)
    assert results['img_shape'] == (40, 30)
    assert results['ori_shape'] == (40, 30)
    assert results['gt_seg_map'].dtype == np.uint8
    np.testing.assert_array_equal(results['gt_seg_map'], mask > 0)
    assert results['seg_fields'] == ['gt_seg_map']


def test_load_16bit_scaled_by_dtype_max(tmp_path):
    img = np.array([[0, 1000], [40000, 65535]], dtype=np.uint16)
    path = _write(tmp_path / 'ir16.png', img)
    out = _load(path)['img']
    assert out.dtype == np.float32 and out.shape == (2, 2, 1)
    np.testing.assert_allclose(out[..., 0], img / 65535.0, rtol=1e-6)

    # A 14-bit sensor stored in 16-bit PNGs: explicit scale, clipped to 1.
    out = _load(path, scale=16383)['img']
    np.testing.assert_allclose(out[0, 1, 0], 1000 / 16383, rtol=1e-6)
    assert out.max() == 1.0


def test_load_rgb_as_grey_color_and_unchanged(tmp_path):
    bgr = np.zeros((4, 5, 3), dtype=np.uint8)
    bgr[..., 0], bgr[..., 1], bgr[..., 2] = 10, 100, 200  # B, G, R
    path = _write(tmp_path / 'rgb.png', bgr)

    grey = _load(path, color_type='grayscale')['img']
    assert grey.shape == (4, 5, 1)
    expected = (0.114 * 10 + 0.587 * 100 + 0.299 * 200) / 255
    np.testing.assert_allclose(grey, expected, atol=1e-3)

    rgb = _load(path, color_type='color')['img']
    assert rgb.shape == (4, 5, 3)
    np.testing.assert_allclose(
        rgb[0, 0], np.array([200, 100, 10]) / 255, atol=1e-6)

    bgra = np.concatenate([bgr, np.full((4, 5, 1), 255, np.uint8)], axis=2)
    path = _write(tmp_path / 'rgba.png', bgra)
    rgba = _load(path, color_type='unchanged')['img']
    assert rgba.shape == (4, 5, 4)
    np.testing.assert_allclose(
        rgba[0, 0], np.array([200, 100, 10, 255]) / 255, atol=1e-6)
    assert _load(path, color_type='grayscale')['img'].shape == (4, 5, 1)


def test_load_grey_as_color_replicates_channels(grey_sample):
    img_path, _, img, _ = grey_sample
    out = _load(img_path, color_type='color')['img']
    assert out.shape == (40, 30, 3)
    for channel in range(3):
        np.testing.assert_allclose(out[..., channel], img / 255.0, atol=1e-6)


def test_load_image_errors(tmp_path):
    with pytest.raises(ValueError, match='color_type'):
        LoadISTDImageFromFile(color_type='rgb')
    with pytest.raises(ValueError, match='scale'):
        LoadISTDImageFromFile(scale=0)

    missing = str(tmp_path / 'nope.png')
    with pytest.raises(FileNotFoundError, match='nope.png'):
        _load(missing)

    corrupt = tmp_path / 'corrupt.png'
    corrupt.write_bytes(b'\x89PNG\r\n\x1a\n this is not a real png')
    with pytest.raises(IOError, match='corrupt.png.*corrupt'):
        _load(str(corrupt))

    empty = tmp_path / 'empty.png'
    empty.write_bytes(b'')
    with pytest.raises(IOError, match='empty.png.*empty'):
        _load(str(empty))

    with pytest.raises(KeyError, match='img_path'):
        LoadISTDImageFromFile()(dict(img_path=None))


def test_mask_binarisation_and_threshold(tmp_path):
    img_path = _write(tmp_path / 'img.png', np.zeros((3, 3), np.uint8))
    mask = np.array([[0, 1, 100], [128, 200, 255], [0, 0, 0]], np.uint8)
    mask_path = _write(tmp_path / 'mask.png', mask)
    results = _load(img_path, mask_path)
    np.testing.assert_array_equal(results['gt_seg_map'], mask > 0)

    # threshold=0.5 reproduces the official "mask / 255 > 0.5" rule.
    results = LoadISTDAnnotations(threshold=0.5)(
        LoadISTDImageFromFile()(dict(
            img_path=img_path, seg_map_path=mask_path)))
    np.testing.assert_array_equal(results['gt_seg_map'], mask > 127.5)

    # Colour masks: any channel on means target.
    colour = np.zeros((3, 3, 3), np.uint8)
    colour[1, 1, 2] = 255
    colour_path = _write(tmp_path / 'colour_mask.png', colour)
    results = _load(img_path, colour_path)
    assert results['gt_seg_map'].sum() == 1 and results['gt_seg_map'][1, 1]


def test_mask_size_mismatch_names_both_files(tmp_path):
    img_path = _write(tmp_path / 'frame.png', np.zeros((8, 10), np.uint8))
    mask_path = _write(tmp_path / 'frame_mask.png', np.zeros((8, 9), np.uint8))
    with pytest.raises(ValueError) as err:
        _load(img_path, mask_path)
    message = str(err.value)
    assert 'frame.png' in message and 'frame_mask.png' in message
    assert '(8, 9)' in message and '(8, 10)' in message


def test_missing_and_corrupt_mask(tmp_path):
    img_path = _write(tmp_path / 'img.png', np.zeros((4, 4), np.uint8))
    with pytest.raises(FileNotFoundError, match='mask file not found'):
        _load(img_path, str(tmp_path / 'absent.png'))
    corrupt = tmp_path / 'bad_mask.png'
    corrupt.write_bytes(b'garbage')
    with pytest.raises(IOError, match='bad_mask.png'):
        _load(img_path, str(corrupt))


# ----------------------------------------------------------------------------
# Geometric transforms
# ----------------------------------------------------------------------------
def test_resize_istd_keeps_grey_channel(grey_sample):
    results = _load(*grey_sample[:2])
    results = ResizeISTD(scale=(48, 32))(results)  # (W, H)
    assert results['img'].shape == (32, 48, 1)
    assert results['img'].dtype == np.float32
    assert results['img_shape'] == (32, 48)
    assert results['ori_shape'] == (40, 30)
    assert results['gt_seg_map'].shape == (32, 48)
    assert set(np.unique(results['gt_seg_map'])) <= {0, 1}
    assert results['gt_seg_map'].any()
    assert results['scale_factor'] == (48 / 30, 32 / 40)


def test_resize_istd_rgb_and_bad_args(grey_sample):
    results = _load(grey_sample[0], color_type='color')
    assert ResizeISTD(scale=(16, 16))(results)['img'].shape == (16, 16, 3)
    with pytest.raises(ValueError, match='scale'):
        ResizeISTD(scale=(16, ))
    with pytest.raises(ValueError, match='interpolation'):
        ResizeISTD(scale=(16, 16), interpolation='lanczos9')
    with pytest.raises(ValueError, match='LoadISTDImageFromFile'):
        ResizeISTD(scale=(8, 8))(dict(img=np.zeros((4, 4), np.float32)))


def test_registry_resolves_mmcv_transforms(grey_sample):
    """mmcv's transforms work on `gt_seg_map` through dunseg's registry."""
    for type_name in ('Resize', 'mmcv.Resize'):
        resize = TRANSFORMS.build(
            dict(type=type_name, scale=(32, 32), keep_ratio=False))
        assert isinstance(resize, MMCVResize)
    results = resize(_load(*grey_sample[:2]))
    assert results['gt_seg_map'].shape == (32, 32)
    # cv2 drops the grey channel axis (hence ResizeISTD); PackISTDInputs
    # restores it so the model still gets (C, H, W).
    assert results['img'].shape == (32, 32)
    packed = PackISTDInputs()(results)
    assert packed['inputs'].shape == (1, 32, 32)

    flip = TRANSFORMS.build(
        dict(type='RandomFlip', prob=1.0, direction='vertical'))
    assert isinstance(flip, MMCVRandomFlip)
    assert isinstance(
        TRANSFORMS.build(dict(type='ResizeISTD', scale=8)), ResizeISTD)


@pytest.mark.parametrize('direction', ['horizontal', 'vertical', 'diagonal'])
def test_mmcv_random_flip_keeps_channel_and_flips_mask(grey_sample, direction):
    results = _load(*grey_sample[:2])
    original = results['img'].copy()
    flip = TRANSFORMS.build(
        dict(type='RandomFlip', prob=1.0, direction=direction))
    results = flip(results)
    axes = dict(horizontal=(1, ), vertical=(0, ), diagonal=(0, 1))[direction]
    assert results['img'].shape == (40, 30, 1)
    np.testing.assert_array_equal(results['img'], np.flip(original, axes))
    # The mask still marks the bright pixels.
    np.testing.assert_array_equal(results['gt_seg_map'], results['img'][..., 0]
                                  > 0.9)
    packed = PackISTDInputs()(results)  # negative strides are handled
    assert packed['data_samples'].flip_direction == direction


def test_random_transpose(grey_sample):
    results = _load(*grey_sample[:2])
    original_img = results['img'].copy()
    original_mask = results['gt_seg_map'].copy()
    results = RandomTranspose(prob=1.0)(results)
    assert results['transposed'] is True
    assert results['img'].shape == (30, 40, 1)
    assert results['img_shape'] == (30, 40)
    np.testing.assert_array_equal(results['img'][..., 0], original_img[...,
                                                                       0].T)
    np.testing.assert_array_equal(results['gt_seg_map'], original_mask.T)
    assert results['img'].flags['C_CONTIGUOUS']

    results = RandomTranspose(prob=0.0)(_load(*grey_sample[:2]))
    assert results['transposed'] is False
    assert results['img'].shape == (40, 30, 1)
    with pytest.raises(ValueError, match='prob'):
        RandomTranspose(prob=1.5)


def test_augmentation_pipeline_keeps_image_and_mask_aligned(grey_sample):
    pipeline = [
        TRANSFORMS.build(
            dict(
                type='RandomFlip',
                prob=[0.25, 0.25, 0.25],
                direction=['horizontal', 'vertical', 'diagonal'])),
        RandomTranspose(prob=0.5),
        PackISTDInputs(),
    ]
    np.random.seed(0)
    seen_shapes = set()
    for _ in range(16):
        results = _load(*grey_sample[:2])
        for transform in pipeline:
            results = transform(results)
        inputs = results['inputs']
        mask = results['data_samples'].gt_mask.data
        seen_shapes.add(tuple(inputs.shape))
        assert torch.equal(mask[0].bool(), inputs[0] > 0.9)
    assert seen_shapes == {(1, 40, 30), (1, 30, 40)}


# ----------------------------------------------------------------------------
# PackISTDInputs
# ----------------------------------------------------------------------------
def test_pack_istd_inputs(grey_sample):
    results = ResizeISTD(scale=(32, 32))(_load(*grey_sample[:2]))
    packed = PackISTDInputs()(results)
    inputs, sample = packed['inputs'], packed['data_samples']
    assert inputs.dtype == torch.float32 and inputs.shape == (1, 32, 32)
    assert isinstance(sample, DunSegDataSample)
    assert isinstance(sample.gt_mask, PixelData)
    assert sample.gt_mask.data.dtype == torch.uint8
    assert sample.gt_mask.data.shape == (1, 32, 32)
    assert set(sample.gt_mask.data.unique().tolist()) <= {0, 1}
    assert sample.img_path == grey_sample[0]
    assert sample.seg_map_path == grey_sample[1]
    assert sample.ori_shape == (40, 30)
    assert sample.img_shape == (32, 32)
    assert 'flip' not in sample  # only keys present in the results

    packed = PackISTDInputs(meta_keys=('img_path', ))(results)
    assert set(packed['data_samples'].metainfo) == {'img_path'}


def test_pack_without_mask_and_bad_inputs():
    img = np.random.rand(6, 7, 3).astype(np.float32)
    packed = PackISTDInputs()(dict(img=img, img_shape=(6, 7)))
    assert packed['inputs'].shape == (3, 6, 7)
    assert 'gt_mask' not in packed['data_samples']

    with pytest.raises(TypeError, match='LoadISTDImageFromFile'):
        PackISTDInputs()(dict(img=np.zeros((6, 7, 1), np.uint8)))
    with pytest.raises(KeyError, match='img'):
        PackISTDInputs()(dict(img_path='x.png'))
    with pytest.raises(ValueError, match='shape'):
        PackISTDInputs()(
            dict(
                img=img,
                gt_seg_map=np.zeros((6, 6), np.uint8),
                img_path='x.png'))
    with pytest.raises(ValueError, match='LoadISTDAnnotations'):
        PackISTDInputs()(
            dict(img=img, gt_seg_map=np.full((6, 7), 255, np.uint8)))
