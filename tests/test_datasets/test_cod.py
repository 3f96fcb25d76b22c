"""COD datasets (RUN / COD10K / folder layouts) and the embedded synthetic
COD data, on small trees the tests build."""
import os

import cv2
import numpy as np
import pytest
import torch

from dunseg.datasets import (
    COD10KDataset,
    CODDataset,
    ImageMaskFolderDataset,
    SyntheticCODDataset,
)
from dunseg.datasets.synthesis.cod_scenes import (
    SHAPE_KINDS,
    CODSceneGenerator,
    blob_shape,
    elongated_shape,
    horse_shape,
    multipart_shape,
)
from dunseg.datasets.transforms.cod import mask_boundary

TEST_PIPELINE = [
    dict(type='LoadCODImageFromFile'),
    dict(type='ResizeCOD', scale=(32, 32)),
    dict(type='LoadCODAnnotations', with_edge=False),
    dict(type='PackCODInputs'),
]
TRAIN_PIPELINE = [
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


def write_pair(img_dir, mask_dir, stem, size=(24, 40), edge_dir=None,
               img_ext='.jpg', seed=0):
    rng = np.random.default_rng(seed)
    h, w = size
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    mask = np.zeros((h, w), np.uint8)
    mask[h // 4:3 * h // 4, w // 4:w // 2] = 255
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(mask_dir, exist_ok=True)
    cv2.imwrite(os.path.join(img_dir, stem + img_ext), img)
    cv2.imwrite(os.path.join(mask_dir, stem + '.png'), mask)
    if edge_dir is not None:
        os.makedirs(edge_dir, exist_ok=True)
        cv2.imwrite(os.path.join(edge_dir, stem + '.png'),
                    mask_boundary(mask, 3) * 255)
    return img, mask


@pytest.fixture
def run_tree(tmp_path):
    """data/TrainDataset/{Imgs,GT,Edge} + data/TestDataset/CAMO/{Imgs,GT}."""
    train = tmp_path / 'TrainDataset'
    for i in range(3):
        write_pair(train / 'Imgs', train / 'GT', f'camourflage_{i:05d}',
                   edge_dir=train / 'Edge', seed=i)
    camo = tmp_path / 'TestDataset' / 'CAMO'
    for i, size in enumerate([(24, 40), (30, 20)]):
        write_pair(camo / 'Imgs', camo / 'GT', f'camo_{i}', size=size, seed=i)
    return tmp_path


def test_run_layout_train_and_test(run_tree):
    train = CODDataset(data_root=str(run_tree / 'TrainDataset'),
                       edge_dir='Edge', pipeline=TRAIN_PIPELINE)
    assert len(train) == 3
    info = train.get_data_info(0)
    assert info['dataset_name'] == 'TrainDataset'
    assert info['edge_path'].endswith('Edge/camourflage_00000.png')
    item = train[0]
    sample = item['data_samples']
    assert item['inputs'].shape == (3, 32, 32)
    assert item['inputs'].dtype == torch.float32
    assert 0 <= item['inputs'].min() and item['inputs'].max() <= 1
    for field in (sample.gt_mask, sample.gt_edge):
        assert field.data.shape == (1, 32, 32)
        assert field.data.dtype == torch.uint8
        assert set(field.data.unique().tolist()) <= {0, 1}

    test = CODDataset(data_root=str(run_tree / 'TestDataset' / 'CAMO'),
                      pipeline=TEST_PIPELINE)
    assert [test.get_data_info(i)['dataset_name'] for i in range(2)] == \
        ['CAMO', 'CAMO']
    item = test[1]
    # The image is resized for the network, the mask stays at the original
    # size for the metric.
    assert item['inputs'].shape == (3, 32, 32)
    assert item['data_samples'].gt_mask.data.shape == (1, 30, 20)
    assert item['data_samples'].ori_shape == (30, 20)
    assert item['data_samples'].dataset_name == 'CAMO'


def test_loaded_edge_matches_file(run_tree):
    ds = CODDataset(data_root=str(run_tree / 'TrainDataset'), edge_dir='Edge',
                    pipeline=[dict(type='LoadCODImageFromFile'),
                              dict(type='LoadCODAnnotations'),
                              dict(type='PackCODInputs')])
    sample = ds[0]['data_samples']
    expected = mask_boundary(sample.gt_mask.data[0].numpy(), 3)
    assert np.array_equal(sample.gt_edge.data[0].numpy(), expected)


def test_missing_folder_names_path_source_and_synthetic(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        CODDataset(data_root=str(tmp_path / 'TestDataset' / 'COD10K'))
    msg = str(err.value)
    assert str(tmp_path / 'TestDataset' / 'COD10K') in msg
    assert 'Imgs/' in msg and 'GT/' in msg
    assert 'github.com/DengPingFan/SINet' in msg
    assert ('run_tiny_1.4k_synthetic-cod-64x64.py' in msg
            and 'SyntheticCOD' in msg)

    os.makedirs(tmp_path / 'NC4K' / 'Imgs')
    with pytest.raises(FileNotFoundError, match=r'mask folder not found.*GT'):
        CODDataset(data_root=str(tmp_path / 'NC4K'))


def test_unmatched_files_are_errors_or_skipped(run_tree):
    camo = run_tree / 'TestDataset' / 'CAMO'
    cv2.imwrite(str(camo / 'Imgs' / 'orphan.jpg'),
                np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(FileNotFoundError, match=r"have no mask.*orphan.jpg"):
        CODDataset(data_root=str(camo))
    ds = CODDataset(data_root=str(camo), allow_unmatched=True)
    assert len(ds) == 2
    os.remove(camo / 'Imgs' / 'orphan.jpg')
    cv2.imwrite(str(camo / 'GT' / 'lonely.png'), np.zeros((8, 8), np.uint8))
    with pytest.raises(FileNotFoundError, match=r'have no image.*lonely.png'):
        CODDataset(data_root=str(camo))


def test_edge_folder_missing_file(run_tree):
    os.remove(run_tree / 'TrainDataset' / 'Edge' / 'camourflage_00001.png')
    with pytest.raises(FileNotFoundError, match='no edge map'):
        CODDataset(data_root=str(run_tree / 'TrainDataset'), edge_dir='Edge')


def test_cod10k_layout_keeps_camouflaged_images(tmp_path):
    root = tmp_path / 'COD10K-v3'
    for split in ('Train', 'Test'):
        for name in ('COD10K-CAM-1-Aquatic-1-BatFish-1',
                     'COD10K-CAM-2-Terrestrial-23-Cat-1'):
            write_pair(root / split / 'Image', root / split / 'GT_Object',
                       name, edge_dir=root / split / 'GT_Edge')
        # Background / non-camouflaged images have no object mask.
        cv2.imwrite(str(root / split / 'Image' / 'COD10K-BG-1-Sky-1.jpg'),
                    np.zeros((8, 8, 3), np.uint8))
        cv2.imwrite(str(root / split / 'Image' / 'COD10K-NonCAM-1-Bird-1.jpg'),
                    np.zeros((8, 8, 3), np.uint8))
    train = COD10KDataset(data_root=str(root), split='train', with_edge=True)
    assert len(train) == 2
    assert train.get_data_info(0)['dataset_name'] == 'COD10K'
    assert 'GT_Edge' in train.get_data_info(0)['edge_path']
    test = COD10KDataset(data_root=str(root), split='test')
    assert len(test) == 2 and test.get_data_info(1)['edge_path'] is None
    with pytest.raises(FileNotFoundError, match='have no mask'):
        COD10KDataset(data_root=str(root), split='test',
                      camouflaged_only=False)


def test_image_mask_folder_dataset(tmp_path):
    write_pair(tmp_path / 'PCOD-LQ' / 'images', tmp_path / 'PCOD-LQ' /
               'masks', 'a', img_ext='.png')
    ds = ImageMaskFolderDataset(
        img_dir=str(tmp_path / 'PCOD-LQ' / 'images'),
        mask_dir=str(tmp_path / 'PCOD-LQ' / 'masks'),
        pipeline=TEST_PIPELINE)
    assert len(ds) == 1
    assert ds[0]['data_samples'].dataset_name == 'PCOD-LQ'


# ---------------------------------------------------------------- synthetic
def test_shapes_are_binary_and_sized():
    rng = np.random.default_rng(0)
    for fn in (horse_shape, blob_shape, elongated_shape, multipart_shape):
        shape = fn(rng, 40)
        assert shape.dtype == np.uint8 and set(np.unique(shape)) <= {0, 1}
        assert max(shape.shape) <= 41 and shape.sum() > 10, fn.__name__


def test_synthetic_cod_deterministic_and_split_independent():
    kwargs = dict(num_samples=4, img_size=(48, 48), seed=3)
    a = SyntheticCODDataset(split='test', **kwargs)
    b = SyntheticCODDataset(split='test', **kwargs)
    c = SyntheticCODDataset(split='train', **kwargs)
    for i in range(4):
        da, db, dc = a[i], b[i], c[i]
        assert np.array_equal(da['img'], db['img'])
        assert np.array_equal(da['gt_seg_map'], db['gt_seg_map'])
        assert not np.array_equal(da['img'], dc['img'])
        mask = da['gt_seg_map']
        assert mask.dtype == np.uint8 and 0 < mask.sum() < mask.size
        assert np.array_equal(da['gt_edge_map'], mask_boundary(mask, 5))
        assert da['img'].shape == (48, 48, 3) and da['img'].dtype == \
            np.float32
        assert da['dataset_name'] == 'SyntheticCOD'
        assert 'gt_img' not in da


def object_ring_colour_difference(difficulty, n=24):
    """Median over scenes of the largest per-channel difference between
    the object's mean colour and that of a 7 px ring around it."""
    gen = CODSceneGenerator(img_size=(96, 96), split='test',
                            difficulty=difficulty)
    diffs = []
    for i in range(n):
        scene = gen(np.random.default_rng([0, 1, i]))
        mask = scene['gt_seg_map'].astype(bool)
        ring = cv2.dilate(mask.astype(np.uint8), np.ones((15, 15), np.uint8)
                          ).astype(bool) & ~mask
        diffs.append(np.abs(scene['img'][mask].mean(0) -
                            scene['img'][ring].mean(0)).max())
    return float(np.median(diffs))


def test_synthetic_cod_object_texture_matches_background():
    """The object is cut from the background's texture: its mean colour is
    close to that of the ring around it (colour alone does not find it),
    and the difficulty presets order how close."""
    hard = object_ring_colour_difference('hard')
    easy = object_ring_colour_difference('easy')
    # 'hard': a colour shift of at most 8 % plus texture variation, a few
    # grey levels per channel for the median object.
    assert hard < 0.08
    assert hard < easy < 0.25
    assert set(SHAPE_KINDS) == {'horse', 'blob', 'elongated', 'multipart'}
    with pytest.raises(ValueError, match='difficulty'):
        CODSceneGenerator(difficulty='trivial')


def test_synthetic_cod_degraded_keeps_clean_image():
    clean = SyntheticCODDataset(num_samples=2, img_size=(48, 48), seed=1,
                                split='test')
    hazy = SyntheticCODDataset(num_samples=2, img_size=(48, 48), seed=1,
                               split='test',
                               degradation=dict(kind='haze', level='heavy'),
                               pipeline=[dict(type='PackCODInputs')])
    item = hazy[0]
    sample = item['data_samples']
    assert sample.dataset_name == 'SyntheticCOD-haze-heavy'
    assert sample.degradation == 'haze'
    assert np.allclose(sample.gt_image.data.numpy().transpose(1, 2, 0),
                       clean[0]['img'])
    assert not torch.allclose(item['inputs'], sample.gt_image.data)
    assert torch.equal(sample.gt_mask.data[0],
                       torch.from_numpy(clean[0]['gt_seg_map']))
    with pytest.raises(ValueError, match='degradation kind'):
        SyntheticCODDataset(num_samples=1, degradation=dict(kind='fog'))


def test_synthetic_cod_clean_fraction_mixes_without_moving_others():
    kwargs = dict(num_samples=40, img_size=(32, 32), seed=2)
    degraded = SyntheticCODDataset(
        degradation=dict(kind=('haze', 'lowlight'), level='medium'),
        **kwargs)
    mixed = SyntheticCODDataset(
        degradation=dict(kind=('haze', 'lowlight'), level='medium',
                         clean_fraction=0.5), **kwargs)
    assert mixed.dataset_name == 'SyntheticCOD-haze+lowlight-medium+clean0.5'
    kept_clean = 0
    for i in range(40):
        a, b = degraded.generate(i), mixed.generate(i)
        assert np.array_equal(a['gt_img'], b['gt_img'])
        if b['degradation'] == 'clean':
            kept_clean += 1
            assert np.array_equal(b['img'], b['gt_img'])
            assert b['degradation_level'] == 'none'
        else:
            # the clean share draws from its own stream: a degraded sample
            # is exactly the one of the fully degraded set
            assert b['degradation'] == a['degradation']
            assert np.array_equal(a['img'], b['img'])
    assert 12 <= kept_clean <= 28
    with pytest.raises(ValueError, match='clean_fraction'):
        SyntheticCODDataset(num_samples=1,
                            degradation=dict(kind='haze', clean_fraction=1))


def test_degradation_argument_degrades_before_packing(run_tree):
    root = str(run_tree / 'TestDataset' / 'CAMO')
    clean = CODDataset(data_root=root, pipeline=TEST_PIPELINE)
    from dunseg.registry import DATASETS
    # built by type name, as configs do
    degraded = DATASETS.build(dict(
        type='CODDataset', data_root=root, pipeline=TEST_PIPELINE,
        degradation=dict(kind='haze', level='heavy', seed=0)))
    assert degraded.dataset_name == 'CAMO-haze-heavy'
    item, reference = degraded[0], clean[0]
    sample = item['data_samples']
    # the clean image is kept for the restoration loss and metric
    torch.testing.assert_close(sample.gt_image.data, reference['inputs'])
    assert not torch.allclose(item['inputs'], reference['inputs'])
    assert sample.dataset_name == 'CAMO-haze-heavy'
    torch.testing.assert_close(degraded[0]['inputs'], item['inputs'])  # seed
    with pytest.raises(ValueError, match='no PackCODInputs'):
        CODDataset(data_root=root, pipeline=TEST_PIPELINE[:-1],
                   degradation=dict(kind='haze'))


def test_degraded_test_sets_one_dataset_per_set_and_level(run_tree):
    from dunseg.registry import DATASETS
    camo = run_tree / 'TestDataset' / 'CAMO'
    chameleon = run_tree / 'TestDataset' / 'CHAMELEON'
    write_pair(chameleon / 'Imgs', chameleon / 'GT', 'animal_1', seed=5)
    sets = DATASETS.build(dict(
        type='DegradedCODTestSets', kind='lowres',
        levels=('light', 'heavy'), sets=('CAMO', 'CHAMELEON'),
        data_root=str(run_tree / 'TestDataset'), pipeline=TEST_PIPELINE))
    names = [d.dataset_name for d in sets.datasets]
    assert names == ['CAMO-lowres-light', 'CAMO-lowres-heavy',
                     'CHAMELEON-lowres-light', 'CHAMELEON-lowres-heavy']
    assert len(sets) == 2 + 2 + 1 + 1
    # the same pixels as one degraded CODDataset with the same seed
    single = CODDataset(data_root=str(camo), pipeline=TEST_PIPELINE,
                        degradation=dict(kind='lowres', level='heavy',
                                         seed=0))
    torch.testing.assert_close(sets[2]['inputs'], single[0]['inputs'])
    assert sets[5]['data_samples'].dataset_name == 'CHAMELEON-lowres-heavy'
    # a missing set is the CODDataset error naming its folder
    with pytest.raises(FileNotFoundError, match='NC4K'):
        DATASETS.build(dict(type='DegradedCODTestSets', kind='haze',
                            sets=('CAMO', 'NC4K'),
                            data_root=str(run_tree / 'TestDataset'),
                            pipeline=TEST_PIPELINE))
    with pytest.raises(ValueError, match='kind must name one'):
        DATASETS.build(dict(type='DegradedCODTestSets', kind=None,
                            data_root=str(run_tree / 'TestDataset')))
    with pytest.raises(TypeError, match='sequences of names'):
        DATASETS.build(dict(type='DegradedCODTestSets', kind='haze',
                            levels='heavy',
                            data_root=str(run_tree / 'TestDataset')))
    with pytest.raises(ValueError, match='fog'):
        DATASETS.build(dict(type='DegradedCODTestSets', kind='fog',
                            sets=('CAMO', ),
                            data_root=str(run_tree / 'TestDataset'),
                            pipeline=TEST_PIPELINE))


@pytest.mark.parametrize('kind,config', [
    ('lowlight', 'configs/nun/nun_r50_160e_cod10k-lowlight-352x352.py'),
    ('haze', 'configs/nun/nun_r50_160e_cod10k-haze-352x352.py'),
    ('lowres', 'configs/nun/nun_r50_160e_cod10k-lowres-352x352.py'),
    ('combined', 'configs/nun/nun_r50_160e_cod10k-combined-352x352.py'),
])
def test_degraded_nun_configs_degrade_train_and_test_alike(kind, config):
    import os.path as osp

    from mmengine.config import Config

    from ..conftest import REPO_ROOT
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    assert cfg.train_dataloader.dataset.degradation.kind == kind
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        assert loader.dataset.type == 'DegradedCODTestSets'
        assert loader.dataset.kind == kind
        assert tuple(loader.dataset.levels) == ('light', 'medium', 'heavy')
        assert tuple(loader.dataset.sets) == ('CHAMELEON', 'CAMO', 'COD10K',
                                              'NC4K')


def test_foreign_objects_come_from_another_source_colour_matched():
    """With foreign_object_prob=1 every object is made of another
    photograph or texture, its colour moved towards the background's;
    at 0 the scenes are those of the default generator, draw for draw."""
    from dunseg.datasets.synthesis.cod_scenes import COD_TRAIN_PHOTO_SOURCES
    foreign = CODSceneGenerator(img_size=(48, 48),
                                sources=COD_TRAIN_PHOTO_SOURCES,
                                texture_prob=0.0, foreign_object_prob=1.0,
                                colour_match=(1.0, 1.0))
    for i in range(6):
        scene = foreign(np.random.default_rng([0, 0, i]))
        assert scene['object_source'] != scene['source']
        assert scene['object_source'] in COD_TRAIN_PHOTO_SOURCES
    default = CODSceneGenerator(img_size=(48, 48))
    explicit = CODSceneGenerator(img_size=(48, 48), foreign_object_prob=0.0)
    for i in range(3):
        a = default(np.random.default_rng([1, 0, i]))
        b = explicit(np.random.default_rng([1, 0, i]))
        assert np.array_equal(a['img'], b['img'])
        assert a['object_source'] == a['source']
    for bad in (dict(foreign_object_prob=1.5),
                dict(colour_match=(0.8, 0.2)),
                dict(test_fraction=1.0)):  # split='train'
        with pytest.raises(ValueError, match=next(iter(bad))):
            CODSceneGenerator(img_size=(48, 48), **bad)


def test_heldout_photo_split_uses_no_training_photograph():
    """The held-out real-photo split is composed only from photographs
    that no embedded training set uses (its backgrounds and its
    objects), read whole, including matplotlib's grace_hopper.jpg."""
    from dunseg.datasets.synthesis.cod_scenes import (
        COD_HELDOUT_PHOTO_SOURCES,
        COD_PHOTO_SOURCES,
        COD_TRAIN_PHOTO_SOURCES,
    )
    from dunseg.datasets.synthetic_degradation import SKIMAGE_SOURCES
    heldout = set(COD_HELDOUT_PHOTO_SOURCES)
    assert len(heldout) >= 2
    assert not heldout & set(COD_TRAIN_PHOTO_SOURCES)
    assert not heldout & set(SKIMAGE_SOURCES)  # DA-CLIP / VLU-Net data
    gen = CODSceneGenerator(img_size=(48, 48), split='test',
                            sources=COD_HELDOUT_PHOTO_SOURCES,
                            texture_prob=0.0, test_fraction=1.0,
                            foreign_object_prob=0.5)
    seen = set()
    for i in range(12):
        scene = gen(np.random.default_rng([0, 1, i]))
        seen |= {scene['source'], scene['object_source']}
    assert seen <= heldout and len(seen) == 2
    # the tiny models' base config uses exactly these lists
    from mmengine.config import Config
    cfg = Config.fromfile('configs/_base_/datasets/synthetic_cod_64x64.py')
    assert set(cfg.train_photos) == set(COD_TRAIN_PHOTO_SOURCES)
    assert set(cfg.heldout_photos) == heldout
    assert set(COD_PHOTO_SOURCES) - {'rocket'} <= set(
        COD_TRAIN_PHOTO_SOURCES)


def test_clean_reference_scores_a_clean_set_against_itself():
    ds = SyntheticCODDataset(num_samples=2, img_size=(32, 32), split='test',
                             clean_reference=True)
    sample = ds[0]
    assert np.array_equal(sample['gt_img'], sample['img'])
    assert sample['degradation'] == 'clean'
    with pytest.raises(ValueError, match='clean_reference'):
        SyntheticCODDataset(num_samples=2, img_size=(32, 32),
                            clean_reference=True,
                            degradation=dict(kind='haze'))
