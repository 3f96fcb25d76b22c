import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from dunseg.datasets import (
    DEGRADATIONS_3TASK,
    DEGRADATIONS_5TASK,
    AllInOneRestorationDataset,
    DenoiseTestDataset,
    PairedImageDataset,
)
from dunseg.registry import DATASETS


def _png(path, value, size=(20, 24)):
    import os
    os.makedirs(osp.dirname(path), exist_ok=True)
    img = np.full(size + (3, ), value, np.uint8)
    img[0, 0] = (value + 7) % 256  # non-constant
    assert cv2.imwrite(str(path), img)


@pytest.fixture
def tree(tmp_path):
    """Tiny copy of the PromptIR / AdaIR layout (values tag the pairs)."""
    r = tmp_path
    for i, name in enumerate(['00001.bmp', '5096.jpg', 'sub_a.png']):
        _png(r / 'Train/Denoise' / name, 10 + i)
    for k in (1, 2):
        _png(r / f'Train/Derain/rainy/rain-{k}.png', 100 + k)
        _png(r / f'Train/Derain/gt/norain-{k}.png', 50 + k)
    _png(r / 'Train/Dehaze/original/0025.png', 60)
    _png(r / 'Train/Dehaze/original/3068.png', 61)
    _png(r / 'Train/Dehaze/synthetic/part1/0025_0.8_0.1.jpg', 160)
    _png(r / 'Train/Dehaze/synthetic/part1/0025_0.9_0.2.jpg', 161)
    _png(r / 'Train/Dehaze/synthetic/part2/3068_0.8_0.1.jpg', 162)
    _png(r / 'Train/Deblur/blur/GOPR_1.png', 170)
    _png(r / 'Train/Deblur/sharp/GOPR_1.png', 70)
    _png(r / 'Train/Enhance/low/2.png', 5)
    _png(r / 'Train/Enhance/gt/2.png', 80)
    # test sets
    for name in ('3096.jpg', '12084.jpg'):
        _png(r / 'test/denoise/bsd68' / name, 90, size=(33, 35))
    _png(r / 'test/denoise/urban100/img_001.png', 91)
    _png(r / 'test/derain/Rain100L/input/1.png', 120)
    _png(r / 'test/derain/Rain100L/target/1.png', 20)
    _png(r / 'test/dehaze/input/0001_0.8_0.2.jpg', 130)
    _png(r / 'test/dehaze/target/0001.png', 30)
    _png(r / 'test/deblur/gopro/input/G_1.png', 140)
    _png(r / 'test/deblur/gopro/target/G_1.png', 40)
    _png(r / 'test/enhance/lol/input/1.png', 3)
    _png(r / 'test/enhance/lol/target/1.png', 45)
    return r


def test_train_layout_pairing_repeats_and_labels(tree):
    ds = AllInOneRestorationDataset(data_root=str(tree), split='train')
    assert ds.metainfo['degradation_classes'] == DEGRADATIONS_5TASK
    by_task = {}
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        by_task.setdefault(info['degradation'], []).append(info)
        assert info['degradation_label'] == DEGRADATIONS_5TASK.index(
            info['degradation'])
    # official repeats: noise x3 per level, Rain100L x120, others x1
    assert {
        t: len(v)
        for t, v in by_task.items()
    } == dict(denoise_15=9,
              denoise_25=9,
              denoise_50=9,
              derain=240,
              dehaze=3,
              deblur=1,
              delowlight=1)
    assert len(ds) == 9 * 3 + 240 + 3 + 1 + 1
    noise = by_task['denoise_25'][0]
    assert noise['img_path'] is None and noise['gt_path'].endswith('.bmp')
    rain = {
        osp.basename(i['img_path']): osp.basename(i['gt_path'])
        for i in by_task['derain']
    }
    assert rain == {'rain-1.png': 'norain-1.png', 'rain-2.png': 'norain-2.png'}
    haze = sorted((osp.basename(i['img_path']), osp.basename(i['gt_path']))
                  for i in by_task['dehaze'])
    assert haze == [('0025_0.8_0.1.jpg', '0025.png'),
                    ('0025_0.9_0.2.jpg', '0025.png'),
                    ('3068_0.8_0.1.jpg', '3068.png')]
    assert by_task['delowlight'][0]['dataset_name'] == 'LOL'


def test_three_task_and_overrides(tree):
    ds = AllInOneRestorationDataset(data_root=str(tree),
                                    tasks=DEGRADATIONS_3TASK,
                                    repeats=dict(derain=1,
                                                 denoise_15=1,
                                                 denoise_25=1,
                                                 denoise_50=1))
    assert ds.metainfo['degradation_classes'] == DEGRADATIONS_3TASK
    assert len(ds) == 3 * 3 + 2 + 3
    labels = {ds.get_data_info(i)['degradation_label'] for i in range(len(ds))}
    assert labels == set(range(5))
    # per-task directory overrides and official path lists
    (tree / 'lists').mkdir()
    (tree / 'lists/rain.txt').write_text(
        './Train/Derain/rainy/rain-2.png, ./Train/Derain/gt/norain-2.png\n\n')
    ds = DATASETS.build(
        dict(type='AllInOneRestorationDataset',
             data_root=str(tree),
             tasks=('derain', 'deblur'),
             list_files=dict(derain='lists/rain.txt'),
             task_dirs=dict(deblur=dict(degraded_dir='Train/Enhance/low',
                                        clean_dir='Train/Enhance/gt')),
             repeats=dict(derain=2)))
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert [osp.basename(i['img_path'])
            for i in infos] == ['rain-2.png', 'rain-2.png', '2.png']
    assert infos[0]['gt_path'] == osp.join(str(tree),
                                           'Train/Derain/gt/norain-2.png')


def test_test_split_and_test_sets(tree):
    ds = AllInOneRestorationDataset(data_root=str(tree), split='test')
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert len(ds) == 2 * 3 + 4  # bsd68 x 3 sigmas + 4 paired sets, no repeat
    names = {i['degradation']: i['dataset_name'] for i in infos}
    assert names['dehaze'] == 'SOTS-outdoor'
    assert names['denoise_50'] == 'CBSD68'
    noise = [i for i in infos if i['degradation'] == 'denoise_15']
    assert [i['seed'] for i in noise] == [0, 1]  # fixed noise at test time

    pipeline = [
        dict(type='LoadPairedImageFromFile'),
        dict(type='CenterCropToMultiple', base=16),
        dict(type='Degrade'),
        dict(type='PackRestorationInputs')
    ]
    dn = DenoiseTestDataset(data_root=str(tree), sigma=50, pipeline=pipeline)
    a, b = dn[0], dn[0]
    assert a['inputs'].shape == (3, 32, 32)  # 33x35 -> multiple of 16
    assert torch.equal(a['inputs'], b['inputs'])  # deterministic noise
    meta = a['data_samples'].metainfo
    assert meta['degradation'] == 'denoise_50' and meta['degradation_label'] \
        == 2 and meta['dataset_name'] == 'bsd68'
    noise_std = (a['inputs'] - a['data_samples'].gt_image.data).std()
    assert 0.1 < float(noise_std) < 0.25

    sots = PairedImageDataset(data_root=str(tree),
                              degraded_dir='test/dehaze/input',
                              clean_dir='test/dehaze/target',
                              degradation='dehaze',
                              pairing='prefix',
                              dataset_name='SOTS',
                              pipeline=pipeline)
    out = sots[0]
    assert out['inputs'].shape == (3, 16, 16)
    assert abs(float(out['inputs'][0, 5, 5]) * 255 - 130) < 1
    assert abs(float(out['data_samples'].gt_image.data[0, 5, 5]) * 255 -
               30) < 1
    assert out['data_samples'].metainfo['degradation_label'] == 3


def test_missing_data_errors_name_the_path(tree, tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        AllInOneRestorationDataset(data_root=str(tmp_path / 'nowhere'))
    msg = str(err.value)
    assert osp.join(str(tmp_path / 'nowhere'), 'Train/Denoise') in msg
    assert 'Restoration data layouts' in msg
    # a degraded image without its clean counterpart
    _png(tree / 'Train/Derain/rainy/rain-9.png', 1)
    with pytest.raises(FileNotFoundError, match='norain-9.png'):
        AllInOneRestorationDataset(data_root=str(tree), tasks=('derain', ))
    with pytest.raises(FileNotFoundError, match='missing.txt'):
        PairedImageDataset(data_root=str(tree), list_file='missing.txt')
    with pytest.raises(FileNotFoundError, match='urban'):
        DenoiseTestDataset(data_root=str(tree), clean_dir='test/urban')
    with pytest.raises(ValueError, match='tasks'):
        AllInOneRestorationDataset(data_root=str(tree), tasks=('desnow', ))
    with pytest.raises(ValueError, match='sigma'):
        DenoiseTestDataset(data_root=str(tree), sigma=30)


@pytest.mark.parametrize('name,num_sets', [('allinone_5task', 10),
                                           ('allinone_3task', 8)])
@pytest.mark.slow
def test_allinone_configs_on_fixture_tree(tree, name, num_sets):
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from dunseg.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(
        osp.join(
            osp.dirname(__file__), '..', '..', 'configs', '_base_',
            'datasets', f'{name}.py'))
    val_sets = cfg.val_dataloader.dataset.datasets
    assert len(val_sets) == num_sets
    for d in val_sets:
        d.data_root = str(tree)
    train = cfg.train_dataloader.dataset
    train.data_root = str(tree)
    train.repeats = dict(derain=1)
    for t in train.pipeline:
        if t.type == 'PairedRandomCrop':
            t.crop_size = 16  # fixture images are tiny
    with DefaultScope.overwrite_default_scope('dunseg'):
        val = DATASETS.build(cfg.val_dataloader.dataset)
        train = DATASETS.build(train)
    classes = val.metainfo['degradation_classes']
    assert len(classes) == (7 if num_sets == 10 else 5)
    seen = set()
    for i in range(len(val)):
        out = val[i]
        meta = out['data_samples'].metainfo
        seen.add(meta['degradation'])
        assert out['inputs'].shape[1] % 16 == 0
        assert out['inputs'].shape == out['data_samples'].gt_image.data.shape
    assert seen == set(classes)
    for i in range(len(train)):
        out = train[i]
        assert out['inputs'].shape == (3, 16, 16)
        assert out['data_samples'].metainfo['rotation'] in (0, 90, 180, 270)
