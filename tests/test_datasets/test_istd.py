"""Tests of the on-disk ISTD datasets and their base configs."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine import Config

from dunseg.datasets import (
    IRSTD1kDataset,
    ISTDDataset,
    NUAASIRSTDataset,
    NUDTSIRSTDataset,
    SIRSTAugDataset,
)
from dunseg.registry import DATASETS
from dunseg.structures import DunSegDataSample

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG_DIR = osp.join(REPO_ROOT, 'configs', '_base_', 'datasets')

GREY_PIPELINE = [
    dict(type='LoadISTDImageFromFile'),
    dict(type='LoadISTDAnnotations'),
    dict(type='PackISTDInputs'),
]


def _write_pair(img_path, mask_path, size=(24, 32), seed=0, dtype=np.uint8):
    """Write a grey image with one bright square and the matching mask."""
    rng = np.random.default_rng(seed)
    high = np.iinfo(dtype).max
    img = rng.integers(0, high // 3, size, dtype=dtype)
    mask = np.zeros(size, dtype=np.uint8)
    row, col = 3 + seed % (size[0] - 8), 3 + seed % (size[1] - 8)
    mask[row:row + 3, col:col + 2] = 255
    img[mask > 0] = high
    os.makedirs(osp.dirname(img_path), exist_ok=True)
    os.makedirs(osp.dirname(mask_path), exist_ok=True)
    assert cv2.imwrite(img_path, img) and cv2.imwrite(mask_path, mask)


def make_split_dirs_tree(root, num_train=3, num_test=2, size=(24, 32)):
    for split_dir, num in (('trainval', num_train), ('test', num_test)):
        for i in range(num):
            name = f'{split_dir}_{i:03d}.png'
            _write_pair(
                osp.join(root, split_dir, 'images', name),
                osp.join(root, split_dir, 'masks', name),
                size,
                seed=i)
    return str(root)


def make_split_files_tree(root,
                          img_dir='images',
                          mask_dir='masks',
                          split_files=(('train', 'trainval.txt'),
                                       ('test', 'test.txt')),
                          mask_suffix='',
                          num_train=3,
                          num_test=2,
                          size=(24, 32)):
    counts = dict(train=num_train, test=num_test)
    for split, split_file in split_files:
        names = [f'{split}_{i}' for i in range(counts[split])]
        for i, name in enumerate(names):
            _write_pair(
                osp.join(root, img_dir, name + '.png'),
                osp.join(root, mask_dir, name + mask_suffix + '.png'),
                size,
                seed=i)
        os.makedirs(osp.dirname(osp.join(root, split_file)), exist_ok=True)
        with open(osp.join(root, split_file), 'w') as f:
            f.write('\n'.join(names) + '\n')
    return str(root)


# Dataset class -> keyword arguments of make_split_files_tree for its
# default layout.
SUBCLASS_TREES = {
    NUDTSIRSTDataset:
    dict(
        split_files=(('train', 'img_idx/train_NUDT-SIRST.txt'),
                     ('test', 'img_idx/test_NUDT-SIRST.txt'))),
    IRSTD1kDataset:
    dict(img_dir='IRSTD1k_Img', mask_dir='IRSTD1k_Label'),
    NUAASIRSTDataset:
    dict(
        mask_suffix='_pixels0',
        split_files=(('train', 'idx_427/trainval.txt'), ('test',
                                                         'idx_427/test.txt'))),
}


def _check_sample(packed, shape):
    assert packed['inputs'].dtype == torch.float32
    assert tuple(packed['inputs'].shape) == (1, ) + shape
    sample = packed['data_samples']
    assert isinstance(sample, DunSegDataSample)
    mask = sample.gt_mask.data
    assert mask.dtype == torch.uint8 and tuple(mask.shape) == (1, ) + shape
    # The fixture's mask is exactly the saturated pixels of the image.
    assert torch.equal(mask[0].bool(), packed['inputs'][0] == 1.0)


# ----------------------------------------------------------------------------
# Layouts and subclasses
# ----------------------------------------------------------------------------
@pytest.mark.parametrize('layout', ['auto', 'split_dirs'])
def test_split_dirs_layout(tmp_path, layout):
    root = make_split_dirs_tree(tmp_path / 'data')
    train = ISTDDataset(
        root, split='train', layout=layout, pipeline=GREY_PIPELINE)
    test = ISTDDataset(
        root, split='test', layout=layout, pipeline=GREY_PIPELINE)
    assert train.resolved_layout == 'split_dirs'
    assert len(train) == 3 and len(test) == 2
    info = train.get_data_info(0)
    assert info['img_path'] == osp.join(root, 'trainval', 'images',
                                        'trainval_000.png')
    assert info['seg_map_path'] == osp.join(root, 'trainval', 'masks',
                                            'trainval_000.png')
    _check_sample(train[1], (24, 32))
    assert train.metainfo['classes'] == ('background', 'target')
    assert train.metainfo['palette'] == [[0, 0, 0], [255, 255, 255]]


def test_split_files_layout_auto_detected(tmp_path):
    root = make_split_files_tree(tmp_path / 'data')
    dataset = ISTDDataset(root, split='test', pipeline=GREY_PIPELINE)
    assert dataset.resolved_layout == 'split_files'
    assert len(dataset) == 2
    assert dataset.get_data_info(1)['img_path'] == osp.join(
        root, 'images', 'test_1.png')
    _check_sample(dataset[0], (24, 32))


@pytest.mark.parametrize('dataset_cls', list(SUBCLASS_TREES))
def test_subclass_defaults(tmp_path, dataset_cls):
    root = make_split_files_tree(tmp_path / 'data',
                                 **SUBCLASS_TREES[dataset_cls])
    for split, num in (('train', 3), ('test', 2)):
        dataset = dataset_cls(root, split=split, pipeline=GREY_PIPELINE)
        assert len(dataset) == num
        _check_sample(dataset[0], (24, 32))
    # Registered under its class name.
    assert DATASETS.get(dataset_cls.__name__) is dataset_cls


def test_subclasses_accept_split_dirs_copies(tmp_path):
    """The RPCANet release ships every dataset as trainval/ + test/."""
    root = make_split_dirs_tree(tmp_path / 'data')
    for dataset_cls in (NUDTSIRSTDataset, IRSTD1kDataset, NUAASIRSTDataset,
                        SIRSTAugDataset):
        dataset = dataset_cls(root, split='train', pipeline=GREY_PIPELINE)
        assert dataset.resolved_layout == 'split_dirs'
        assert len(dataset) == 3


def test_nuaa_rpcanet_split_files_override(tmp_path):
    root = make_split_files_tree(
        tmp_path / 'data',
        mask_suffix='_pixels0',
        split_files=(('train', 'img_idx/trainval.txt'), ('test',
                                                         'img_idx/test1.txt')))
    split_file = dict(train='img_idx/trainval.txt', test='img_idx/test1.txt')
    assert len(NUAASIRSTDataset(root, split='test',
                                split_file=split_file)) == 2
    # A plain string applies to the requested split.
    assert len(
        NUAASIRSTDataset(
            root, split='train', split_file='img_idx/trainval.txt')) == 3


def test_sirst_aug_is_split_dirs(tmp_path):
    root = make_split_dirs_tree(tmp_path / 'data')
    dataset = SIRSTAugDataset(root, split='test', pipeline=GREY_PIPELINE)
    assert dataset.resolved_layout == 'split_dirs' and len(dataset) == 2
    # split_files trees are not picked up silently.
    files_root = make_split_files_tree(tmp_path / 'files')
    with pytest.raises(FileNotFoundError, match='trainval'):
        SIRSTAugDataset(files_root)


def test_split_file_lines_with_extension_and_blanks(tmp_path):
    root = make_split_files_tree(tmp_path / 'data')
    with open(osp.join(root, 'test.txt'), 'w') as f:
        f.write('test_0.png\r\n\n  test_1  \n')
    assert len(ISTDDataset(root, split='test')) == 2


def test_16bit_and_rgb_images_through_dataset(tmp_path):
    root = tmp_path / 'data'
    _write_pair(
        osp.join(root, 'trainval', 'images', 'a.png'),
        osp.join(root, 'trainval', 'masks', 'a.png'),
        dtype=np.uint16)
    # An RGB image (grey content saved as 3 identical channels).
    _write_pair(
        osp.join(root, 'trainval', 'images', 'b.png'),
        osp.join(root, 'trainval', 'masks', 'b.png'),
        seed=1)
    path_b = osp.join(root, 'trainval', 'images', 'b.png')
    grey = cv2.imread(path_b, cv2.IMREAD_UNCHANGED)
    cv2.imwrite(path_b, cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))

    dataset = ISTDDataset(str(root), split='train', pipeline=GREY_PIPELINE)
    for index in range(2):
        _check_sample(dataset[index], (24, 32))
    # 16-bit values are scaled by 65535, not clipped to 8 bit.
    raw = cv2.imread(
        osp.join(root, 'trainval', 'images', 'a.png'), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16
    np.testing.assert_allclose(
        dataset[0]['inputs'][0].numpy(), raw / 65535.0, rtol=1e-6)


# ----------------------------------------------------------------------------
# Helpful errors
# ----------------------------------------------------------------------------
def _assert_has_tree(message):
    assert '|-- ' in message and '`-- ' in message, message


def test_missing_root(tmp_path):
    missing = str(tmp_path / 'no_such_dataset')
    with pytest.raises(FileNotFoundError) as err:
        NUDTSIRSTDataset(missing)
    assert missing in str(err.value)
    assert 'img_idx/train_NUDT-SIRST.txt' in str(err.value)
    _assert_has_tree(str(err.value))


def test_missing_image_dir(tmp_path):
    root = tmp_path / 'data'
    root.mkdir()
    with pytest.raises(FileNotFoundError) as err:
        IRSTD1kDataset(str(root))
    message = str(err.value)
    assert osp.join(str(root), 'IRSTD1k_Img') in message
    # 'auto' shows both layouts, since either may have been meant.
    assert 'split_files' in message and 'split_dirs' in message
    _assert_has_tree(message)


def test_missing_split_file(tmp_path):
    root = make_split_files_tree(tmp_path / 'data')
    os.remove(osp.join(root, 'test.txt'))
    with pytest.raises(FileNotFoundError) as err:
        ISTDDataset(root, split='test')
    assert osp.join(root, 'test.txt') in str(err.value)
    assert 'split_file' in str(err.value)
    _assert_has_tree(str(err.value))


def test_missing_split_dir(tmp_path):
    root = make_split_dirs_tree(tmp_path / 'data')
    import shutil
    shutil.rmtree(osp.join(root, 'test'))
    with pytest.raises(FileNotFoundError) as err:
        ISTDDataset(root, split='test', layout='split_dirs')
    assert osp.join(root, 'test') in str(err.value)
    _assert_has_tree(str(err.value))


def test_missing_mask_suggests_suffix(tmp_path):
    # NUAA-style masks, but the user forgot mask_suffix.
    root = make_split_files_tree(tmp_path / 'data', mask_suffix='_pixels0')
    with pytest.raises(FileNotFoundError) as err:
        ISTDDataset(root, split='train')
    message = str(err.value)
    assert osp.join(root, 'masks', 'train_0.png') in message
    assert "mask_suffix='_pixels0'" in message
    _assert_has_tree(message)


def test_image_without_mask_split_dirs(tmp_path):
    root = make_split_dirs_tree(tmp_path / 'data')
    os.remove(osp.join(root, 'trainval', 'masks', 'trainval_001.png'))
    with pytest.raises(FileNotFoundError, match='trainval_001.png'):
        ISTDDataset(root, split='train')


def test_listed_image_missing(tmp_path):
    root = make_split_files_tree(tmp_path / 'data')
    with open(osp.join(root, 'trainval.txt'), 'a') as f:
        f.write('ghost\n')
    with pytest.raises(FileNotFoundError, match='ghost.png'):
        ISTDDataset(root, split='train')


def test_empty_split(tmp_path):
    root = make_split_files_tree(tmp_path / 'data')
    open(osp.join(root, 'test.txt'), 'w').close()
    with pytest.raises(ValueError, match='empty') as err:
        ISTDDataset(root, split='test')
    _assert_has_tree(str(err.value))

    dirs_root = tmp_path / 'dirs'
    (dirs_root / 'trainval' / 'images').mkdir(parents=True)
    (dirs_root / 'trainval' / 'masks').mkdir(parents=True)
    with pytest.raises(ValueError, match='no \\*.png images'):
        ISTDDataset(str(dirs_root), split='train')


def test_bad_arguments(tmp_path):
    root = make_split_dirs_tree(tmp_path / 'data')
    with pytest.raises(ValueError, match="'train' or 'test'"):
        ISTDDataset(root, split='val')
    with pytest.raises(ValueError, match='layout'):
        ISTDDataset(root, layout='flat')
    with pytest.raises(ValueError, match='ann_file'):
        ISTDDataset(root, ann_file='train.txt')


def test_corrupt_image_and_size_mismatch_at_load_time(tmp_path):
    root = make_split_dirs_tree(tmp_path / 'data', num_train=2)
    img_dir = osp.join(root, 'trainval', 'images')
    mask_dir = osp.join(root, 'trainval', 'masks')
    with open(osp.join(img_dir, 'trainval_000.png'), 'wb') as f:
        f.write(b'not a png')
    cv2.imwrite(
        osp.join(mask_dir, 'trainval_001.png'), np.zeros((20, 32), np.uint8))
    dataset = ISTDDataset(
        root, split='train', pipeline=GREY_PIPELINE, test_mode=True)
    with pytest.raises(IOError, match='trainval_000.png'):
        dataset[0]
    with pytest.raises(ValueError) as err:
        dataset[1]
    message = str(err.value)
    assert osp.join(img_dir, 'trainval_001.png') in message
    assert osp.join(mask_dir, 'trainval_001.png') in message
    assert '(20, 32)' in message and '(24, 32)' in message


# ----------------------------------------------------------------------------
# Base configs
# ----------------------------------------------------------------------------
CONFIG_TREES = {
    'nudt_sirst.py': SUBCLASS_TREES[NUDTSIRSTDataset],
    'irstd1k.py': SUBCLASS_TREES[IRSTD1kDataset],
    'nuaa_sirst.py': SUBCLASS_TREES[NUAASIRSTDataset],
    'sirst_aug.py': None,  # split_dirs
}


@pytest.mark.parametrize('config_name', sorted(CONFIG_TREES))
def test_base_dataset_configs(tmp_path, config_name):
    cfg = Config.fromfile(osp.join(CONFIG_DIR, config_name))
    tree = CONFIG_TREES[config_name]
    if tree is None:
        root = make_split_dirs_tree(tmp_path / 'data', size=(32, 32))
        expected_shape = (32, 32)  # SIRST-Aug is not resized
    else:
        root = make_split_files_tree(tmp_path / 'data', size=(24, 32), **tree)
        expected_shape = (256, 256)

    train_loader = cfg.train_dataloader
    assert train_loader.batch_size == 8 and train_loader.num_workers == 2
    assert train_loader.persistent_workers is True
    assert train_loader.sampler == dict(type='DefaultSampler', shuffle=True)
    assert train_loader.collate_fn == dict(type='default_collate')
    assert cfg.val_dataloader.batch_size == 1
    assert cfg.val_dataloader.dataset.split == 'test'
    assert cfg.test_dataloader == cfg.val_dataloader
    assert cfg.val_evaluator == dict(type='ISTDMetric')
    assert cfg.test_evaluator == cfg.val_evaluator

    for loader_cfg, num in ((cfg.train_dataloader, 3), (cfg.val_dataloader,
                                                        2)):
        dataset_cfg = loader_cfg.dataset.copy()
        dataset_cfg['data_root'] = root
        dataset = DATASETS.build(dataset_cfg)
        assert len(dataset) == num
        packed = dataset[0]
        assert tuple(packed['inputs'].shape) == (1, ) + expected_shape
        assert tuple(packed['data_samples'].gt_mask.shape) == expected_shape
        assert packed['data_samples'].gt_mask.data.sum() > 0
