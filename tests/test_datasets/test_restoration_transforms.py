import cv2
import numpy as np
import pytest
import torch

from dunseg.datasets.transforms import (
    CenterCropToMultiple,
    Degrade,
    LoadPairedImageFromFile,
    PackRestorationInputs,
    PairedRandomCrop,
    PairedRandomFlipRot,
)
from dunseg.datasets.transforms.restoration import flip_rot


def _pair(h=10, w=12):
    gt = np.random.default_rng(0).random((h, w, 3)).astype(np.float32)
    return dict(img=gt * 0.5, gt_img=gt.copy(), img_path='a', gt_path='b')


def test_load_paired(tmp_path):
    bgr = np.zeros((6, 8, 3), np.uint8)
    bgr[..., 2] = 255  # red in BGR
    cv2.imwrite(str(tmp_path / 'deg.png'), bgr)
    cv2.imwrite(str(tmp_path / 'gt16.png'), np.full((6, 8), 65535,
                                                    np.uint16))  # 16-bit grey
    cv2.imwrite(str(tmp_path / 'small.png'), bgr[:5])
    out = LoadPairedImageFromFile()(dict(img_path=str(tmp_path / 'deg.png'),
                                         gt_path=str(tmp_path / 'gt16.png')))
    assert out['img'].dtype == np.float32 and out['img'].shape == (6, 8, 3)
    assert out['img'][0, 0].tolist() == [1.0, 0.0, 0.0]  # RGB order
    assert np.all(out['gt_img'] == 1.0) and out['gt_img'].shape == (6, 8, 3)
    assert out['img_shape'] == (6, 8)
    clean_only = LoadPairedImageFromFile()(dict(img_path=None,
                                                gt_path=str(tmp_path /
                                                            'deg.png')))
    assert 'img' not in clean_only and clean_only['gt_img'].shape == (6, 8, 3)
    with pytest.raises(FileNotFoundError, match='nope.png'):
        LoadPairedImageFromFile()(dict(img_path=str(tmp_path / 'nope.png'),
                                       gt_path=None))
    mismatch = dict(img_path=str(tmp_path / 'small.png'),
                    gt_path=str(tmp_path / 'deg.png'))
    with pytest.raises(ValueError, match='small.png'):
        LoadPairedImageFromFile()(dict(mismatch))
    out = LoadPairedImageFromFile(size_mismatch='crop')(dict(mismatch))
    assert out['img'].shape == out['gt_img'].shape == (5, 8, 3)


def test_paired_crop_and_flip_rot_keep_alignment():
    np.random.seed(0)
    res = PairedRandomCrop(4)(_pair())
    assert res['img'].shape == (4, 4, 3) and res['img_shape'] == (4, 4)
    assert np.allclose(res['img'], res['gt_img'] * 0.5)
    with pytest.raises(ValueError, match='smaller than the crop 16x16'):
        PairedRandomCrop(16)(_pair())
    seen = set()
    for _ in range(60):
        res = PairedRandomFlipRot()(_pair(6, 6))
        assert np.allclose(res['img'], res['gt_img'] * 0.5)
        mode = res['flip_rot_mode']
        seen.add(mode)
        assert res['rotation'] == 90 * (mode // 2)
        assert res['flip'] == bool(mode % 2)
        assert np.array_equal(res['gt_img'],
                              flip_rot(_pair(6, 6)['gt_img'], mode))
    assert seen == set(range(1, 8))  # official: never the identity
    x = np.arange(6).reshape(2, 3)
    assert np.array_equal(flip_rot(x, 3), np.flipud(np.rot90(x)))
    # non-square images swap H and W under odd rotations
    res = PairedRandomFlipRot(include_identity=True)(_pair(4, 6))
    assert res['img_shape'] in ((4, 6), (6, 4))


def test_center_crop_to_multiple_matches_official():
    res = CenterCropToMultiple(base=16)(_pair(37, 35))
    assert res['img'].shape[:2] == (32, 32)
    ref = _pair(37, 35)['gt_img']
    # crop_img: surplus 5 -> 2 rows off the top, 3 at the bottom
    assert np.array_equal(res['gt_img'], ref[2:34, 1:33])


def test_degrade_and_pack():
    clean = dict(gt_img=np.full((16, 16, 3), 0.5, np.float32),
                 gt_path='c.png',
                 degradation='denoise_25',
                 seed=3)
    a = Degrade()(dict(clean))
    b = Degrade()(dict(clean))
    assert np.array_equal(a['img'], b['img'])  # deterministic per seed
    assert a['degradation'] == 'denoise_25' and a['degradation_label'] == 1
    assert 0.07 < (a['img'] - 0.5).std() < 0.13
    # drawn from a list, labels in a custom vocabulary (jpeg included)
    d = Degrade(degradations=['jpeg'],
                seed=1,
                degradation_classes=('derain',
                                     'jpeg'))(dict(gt_img=clean['gt_img'],
                                                   sample_idx=0))
    assert d['degradation'] == 'jpeg' and d['degradation_label'] == 1
    with pytest.raises(KeyError, match='jpeg'):
        Degrade(degradation='jpeg')(dict(gt_img=clean['gt_img']))
    with pytest.raises(KeyError, match='unknown'):
        Degrade(degradation='desnow')
    # real pairs pass through untouched
    pair = _pair()
    assert Degrade(degradation='dehaze')(dict(pair))['img'] is pair['img']

    packed = PackRestorationInputs()(a)
    assert packed['inputs'].shape == (3, 16, 16)
    assert packed['inputs'].dtype == torch.float32
    ds = packed['data_samples']
    assert torch.allclose(ds.gt_image.data, torch.full((3, 16, 16), 0.5))
    assert ds.metainfo['degradation'] == 'denoise_25'
    assert ds.metainfo['degradation_label'] == 1 and ds.metainfo['seed'] == 3
    with pytest.raises(KeyError, match='Degrade'):
        PackRestorationInputs()(dict(gt_img=clean['gt_img']))
    bad = _pair()
    bad['gt_img'] = bad['gt_img'][:5]
    with pytest.raises(ValueError, match='Paired'):
        PackRestorationInputs()(bad)
