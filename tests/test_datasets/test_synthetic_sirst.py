"""Tests of the procedural synthetic SIRST dataset and its PNG exporter."""
import importlib.util
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine import Config
from mmengine.dataset import default_collate
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from torch.utils.data import DataLoader

from dunseg.datasets import (
    ISTDDataset,
    SIRSTAugDataset,
    SIRSTSceneGenerator,
    SyntheticSIRSTDataset,
)
from dunseg.registry import DATASETS

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SIZE = (48, 48)


def _dataset(**kwargs):
    kwargs.setdefault('num_samples', 40)
    kwargs.setdefault('img_size', SIZE)
    return SyntheticSIRSTDataset(**kwargs)


def test_results_contract():
    dataset = _dataset()
    info = dataset.get_data_info(3)
    assert info['img_path'] is None and info['seg_map_path'] is None
    assert info['img'].dtype == np.float32 and info['img'].shape == SIZE + (
        1, )
    assert 0.0 <= info['img'].min() and info['img'].max() <= 1.0
    assert info['gt_seg_map'].dtype == np.uint8
    assert info['gt_seg_map'].shape == SIZE
    assert set(np.unique(info['gt_seg_map'])) <= {0, 1}
    assert info['img_shape'] == SIZE and info['ori_shape'] == SIZE
    assert isinstance(info['num_targets'], int)
    assert info['scene_type'] in ('sky', 'sea', 'ground')
    assert dataset.metainfo['classes'] == ('background', 'target')
    # Only indices are stored, so serialisation stays cheap.
    assert _dataset(serialize_data=False).data_list[0] == dict(
        synthetic_index=0)


def test_determinism_per_seed_and_index():
    first, second = _dataset(seed=7), _dataset(seed=7)
    for index in (0, 5, 39):
        a, b = first.get_data_info(index), second.get_data_info(index)
        np.testing.assert_array_equal(a['img'], b['img'])
        np.testing.assert_array_equal(a['gt_seg_map'], b['gt_seg_map'])
    # Repeated access gives the same sample (no hidden RNG state).
    np.testing.assert_array_equal(
        first.get_data_info(5)['img'],
        first.get_data_info(5)['img'])
    assert not np.array_equal(
        first.get_data_info(0)['img'],
        first.get_data_info(1)['img'])
    assert not np.array_equal(
        first.get_data_info(0)['img'],
        _dataset(seed=8).get_data_info(0)['img'])
    # Subsets keep the identity of each sample.
    subset = _dataset(seed=7, indices=[5])
    np.testing.assert_array_equal(
        subset.get_data_info(0)['img'],
        first.get_data_info(5)['img'])


def test_train_and_test_splits_are_disjoint():
    train = _dataset(split='train', num_samples=20)
    test = _dataset(split='test', num_samples=20)
    train_imgs = [train.get_data_info(i)['img'] for i in range(20)]
    for j in range(20):
        test_img = test.get_data_info(j)['img']
        assert not any(np.array_equal(test_img, t) for t in train_imgs)


def test_targets_are_bounded_separate_components():
    generator = SIRSTSceneGenerator(img_size=(64, 64), max_targets=4)
    low, high = generator.target_size_range
    num_free = 0
    for index in range(60):
        sample = generator(np.random.default_rng([3, index]))
        mask = sample['mask']
        assert set(np.unique(mask)) <= {0, 1}
        num_free += sample['num_targets'] == 0
        num_labels, labels = cv2.connectedComponents(mask, connectivity=8)
        # Targets never touch: one 8-connected component per target.
        assert num_labels - 1 == sample['num_targets']
        for target in sample['targets']:
            top, left, bottom, right = target['bbox']
            assert low <= max(bottom - top, right - left) <= high
            assert target['area'] >= 1
        for label in range(1, num_labels):
            rows, cols = np.nonzero(labels == label)
            assert max(np.ptp(rows), np.ptp(cols)) + 1 <= high
    assert num_free > 0  # the default target_free_ratio is 0.1


def test_target_size_range_and_target_free_ratio():
    generator = SIRSTSceneGenerator(
        img_size=(64, 64), target_size_range=(3, 5), target_free_ratio=0.0)
    for index in range(30):
        sample = generator(np.random.default_rng([0, index]))
        assert sample['num_targets'] >= 1
        for target in sample['targets']:
            top, left, bottom, right = target['bbox']
            assert 3 <= max(bottom - top, right - left) <= 5
    empty = SIRSTSceneGenerator(img_size=(32, 32), target_free_ratio=1.0)
    assert empty(np.random.default_rng(0))['mask'].sum() == 0


def test_targets_are_visible_against_local_background():
    """Catch generator bugs that hide targets: the mask must be brighter than
    a ring around it for (nearly) every target."""
    generator = SIRSTSceneGenerator(img_size=(128, 128))
    contrasts = []
    kernel = np.ones((3, 3), np.uint8)
    for index in range(40):
        sample = generator(np.random.default_rng([11, index]))
        img = sample['img']
        num_labels, labels = cv2.connectedComponents(
            sample['mask'], connectivity=8)
        for label in range(1, num_labels):
            target = (labels == label).astype(np.uint8)
            inner = cv2.dilate(target, kernel, iterations=2)
            outer = cv2.dilate(target, kernel, iterations=5)
            ring = (outer > 0) & (inner == 0)
            contrasts.append(img[target > 0].mean() - img[ring].mean())
    contrasts = np.array(contrasts)
    assert len(contrasts) > 40
    assert (contrasts > 0).mean() > 0.95
    assert np.median(contrasts) > 0.02


def test_scene_types_and_probabilities():
    generator = SIRSTSceneGenerator(img_size=(32, 32))
    scenes = {
        generator(np.random.default_rng([0, i]))['scene_type']
        for i in range(30)
    }
    assert scenes == {'sky', 'sea', 'ground'}
    sea_only = SIRSTSceneGenerator(img_size=(32, 32), scene_probs=dict(sea=1))
    assert all(
        sea_only(np.random.default_rng(i))['scene_type'] == 'sea'
        for i in range(5))


def test_bad_arguments():
    with pytest.raises(ValueError, match='split'):
        _dataset(split='val')
    with pytest.raises(ValueError, match='num_samples'):
        _dataset(num_samples=0)
    with pytest.raises(ValueError, match='target_size_range'):
        SIRSTSceneGenerator(target_size_range=(5, 2))
    with pytest.raises(ValueError, match='do not fit'):
        SIRSTSceneGenerator(img_size=(16, 16), target_size_range=(1, 15))
    with pytest.raises(ValueError, match='scene_probs'):
        SIRSTSceneGenerator(scene_probs=dict(space=1.0))
    with pytest.raises(ValueError, match='snr_range'):
        SIRSTSceneGenerator(snr_range=(0, 3))


def test_pipeline_and_pack():
    dataset = _dataset(pipeline=[
        dict(type='RandomFlip', prob=1.0, direction='horizontal'),
        dict(type='RandomTranspose', prob=1.0),
        dict(type='ResizeISTD', scale=(32, 32)),
        dict(type='PackISTDInputs'),
    ])
    packed = dataset[2]
    info = dataset.get_data_info(2)
    assert packed['inputs'].shape == (1, 32, 32)
    sample = packed['data_samples']
    assert sample.gt_mask.data.shape == (1, 32, 32)
    assert sample.num_targets == info['num_targets']
    assert sample.img_path is None
    assert sample.flip is True and sample.transposed is True
    assert sample.ori_shape == SIZE


def test_dataloaders():
    dataset = _dataset(num_samples=6, pipeline=[dict(type='PackISTDInputs')])
    loader = DataLoader(dataset, batch_size=3, collate_fn=default_collate)
    batch = next(iter(loader))
    assert batch['inputs'].shape == (3, 1) + SIZE
    assert batch['inputs'].dtype == torch.float32
    assert len(batch['data_samples']) == 3

    with DefaultScope.overwrite_default_scope('dunseg'):
        runner_loader = Runner.build_dataloader(
            dict(
                batch_size=2,
                num_workers=0,
                sampler=dict(type='DefaultSampler', shuffle=True),
                collate_fn=dict(type='default_collate'),
                dataset=dict(
                    type='SyntheticSIRSTDataset',
                    num_samples=4,
                    img_size=SIZE,
                    pipeline=[dict(type='PackISTDInputs')])),
            seed=0)
        batches = list(runner_loader)
    assert len(batches) == 2
    assert batches[0]['inputs'].shape == (2, 1) + SIZE
    assert batches[0]['data_samples'][0].gt_mask.data.shape == (1, ) + SIZE


def test_synthetic_config():
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', '_base_', 'datasets',
                 'synthetic_sirst.py'))
    assert cfg.train_dataloader.dataset.img_size == (128, 128)
    assert cfg.train_dataloader.dataset.num_samples == 2000
    assert cfg.val_dataloader.dataset.num_samples == 200
    assert cfg.val_dataloader.dataset.split == 'test'
    assert cfg.val_evaluator == dict(type='ISTDMetric')
    for loader_cfg in (cfg.train_dataloader, cfg.test_dataloader):
        dataset_cfg = loader_cfg.dataset.copy()
        dataset_cfg['num_samples'] = 2
        packed = DATASETS.build(dataset_cfg)[0]
        assert packed['inputs'].shape == (1, 128, 128)
        assert packed['data_samples'].gt_mask.data.shape == (1, 128, 128)


# ----------------------------------------------------------------------------
# tools/dataset_converters/make_synthetic_sirst.py
# ----------------------------------------------------------------------------
def _load_tool():
    path = osp.join(REPO_ROOT, 'tools', 'dataset_converters',
                    'make_synthetic_sirst.py')
    spec = importlib.util.spec_from_file_location('make_synthetic_sirst', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_make_synthetic_sirst_tool(tmp_path, capsys):
    tool = _load_tool()
    out_dir = str(tmp_path / 'synthetic-sirst')
    args = [
        '--out-dir', out_dir, '--num-train', '3', '--num-test', '2', '--size',
        '40', '--seed', '5'
    ]
    tool.main(args)
    printed = capsys.readouterr().out
    assert osp.join(out_dir, 'trainval') in printed
    assert 'written 6' in printed and 'written 4' in printed

    train = SIRSTAugDataset(
        out_dir,
        split='train',
        pipeline=[
            dict(type='LoadISTDImageFromFile'),
            dict(type='LoadISTDAnnotations'),
            dict(type='PackISTDInputs'),
        ])
    test = ISTDDataset(out_dir, split='test', layout='split_dirs')
    assert len(train) == 3 and len(test) == 2

    # The files hold the generator's samples, quantised to 8 bit.
    reference = SyntheticSIRSTDataset(
        num_samples=3, img_size=(40, 40), seed=5, split='train')
    for index in range(3):
        packed = train[index]
        expected = reference.generate(index)
        np.testing.assert_allclose(
            packed['inputs'][0].numpy(),
            np.round(expected['img'] * 255) / 255,
            atol=1e-6)
        np.testing.assert_array_equal(
            packed['data_samples'].gt_mask.data[0].numpy(), expected['mask'])
    raw_mask = cv2.imread(
        osp.join(out_dir, 'trainval', 'masks', 'synth_000000.png'),
        cv2.IMREAD_UNCHANGED)
    assert raw_mask.dtype == np.uint8 and set(np.unique(raw_mask)) <= {0, 255}

    # Idempotent: a second run rewrites nothing.
    tool.main(args)
    printed = capsys.readouterr().out
    assert 'written 0, unchanged 6' in printed

    # A smaller run removes only its own stale files.
    keep = osp.join(out_dir, 'trainval', 'images', 'notes.png')
    open(keep, 'wb').close()
    tool.main([
        '--out-dir', out_dir, '--num-train', '1', '--num-test', '2', '--size',
        '40', '--seed', '5'
    ])
    assert 'stale removed 4' in capsys.readouterr().out
    assert sorted(os.listdir(osp.join(out_dir, 'trainval',
                                      'masks'))) == ['synth_000000.png']
    assert osp.exists(keep)
