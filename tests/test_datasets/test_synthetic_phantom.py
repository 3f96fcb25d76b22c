"""The embedded CT/MRI phantoms: exact labels, contrast, determinism, and
the base config's data path."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate
from scipy import ndimage

from dunseg.datasets import SyntheticPhantomDataset
from dunseg.datasets.synthetic_phantom import PHANTOM_CLASSES, PhantomGenerator
from dunseg.registry import DATASETS
from dunseg.utils import register_all_modules

from ..conftest import REPO_ROOT


def test_samples_are_deterministic_and_splits_differ():
    a = SyntheticPhantomDataset(num_samples=3, img_size=48, seed=1,
                                split='test')
    b = SyntheticPhantomDataset(num_samples=3, img_size=48, seed=1,
                                split='test')
    c = SyntheticPhantomDataset(num_samples=3, img_size=48, seed=1,
                                split='train')
    for i in range(3):
        np.testing.assert_array_equal(a[i]['gt_img'], b[i]['gt_img'])
        np.testing.assert_array_equal(a[i]['gt_seg_map'], b[i]['gt_seg_map'])
    assert not np.array_equal(a[0]['gt_img'], c[0]['gt_img'])


def test_modalities_alternate_and_every_sample_is_named():
    ds = SyntheticPhantomDataset(num_samples=4, img_size=48, seed=0)
    info = [ds[i] for i in range(4)]
    assert [s['modality'] for s in info] == ['CT', 'MRI', 'CT', 'MRI']
    assert [s['dataset_name'] for s in info[:2]] == ['PhantomCT',
                                                     'PhantomMRI']
    assert all(s['num_classes'] == 4 and s['classes'] == PHANTOM_CLASSES
               for s in info)
    assert len({s['img_id'] for s in info}) == 4
    with pytest.raises(ValueError, match='modality must be one of'):
        SyntheticPhantomDataset(num_samples=2, modalities=('PET', ))


@pytest.mark.parametrize('modality', ['CT', 'MRI'])
@pytest.mark.parametrize('anatomy', ['head', 'torso'])
def test_labels_are_the_shapes_that_make_the_image(modality, anatomy):
    gen = PhantomGenerator((96, 96), anatomies=(anatomy, ),
                           lesion_free_prob=0.0)
    for seed in range(3):
        img, labels, drawn = gen(modality, np.random.default_rng(seed))
        assert drawn == anatomy and img.dtype == np.float32
        assert 0.0 <= img.min() and img.max() <= 1.0
        assert labels.dtype == np.uint8 and labels.max() <= 3
        present = set(np.unique(labels).tolist())
        assert {0, 1, 2, 3} <= present, present
        # the wall encloses everything labelled inside it
        rows = np.flatnonzero((labels > 0).any(1))
        wall_rows = np.flatnonzero((labels == 2).any(1))
        assert wall_rows.min() == rows.min()
        assert wall_rows.max() == rows.max()
        # every organ and lesion differs in intensity from the pixels just
        # outside it, so the labels are visible in the image
        for cls in (1, 3):
            components, count = ndimage.label(labels == cls)
            for k in range(1, count + 1):
                blob = components == k
                if blob.sum() < 9:
                    continue  # a sliver cut by an overlapping shape
                ring = ndimage.binary_dilation(blob, iterations=2) & ~blob
                ring &= labels != cls
                assert abs(np.median(img[blob]) - np.median(img[ring])) > 0.03
        if modality == 'CT':
            # air outside the body is black
            assert img[0, 0] < 0.05


def test_base_config_builds_the_degraded_batches():
    register_all_modules()
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs/_base_/datasets/synthetic_phantom.py'))
    for split in ('train_dataloader', 'test_dataloader'):
        dataset_cfg = cfg[split].dataset
        dataset_cfg.update(num_samples=2, img_size=32)
        dataset = DATASETS.build(dataset_cfg)
        batch = default_collate([dataset[0], dataset[1]])
        assert batch['inputs'].shape == (2, 1, 32, 32)
        samples = batch['data_samples']
        assert [s.kspace_pattern for s in samples] == ['radial', 'cartesian']
        # the input is the zero-filled undersampled clean slice
        assert not torch.allclose(batch['inputs'][0],
                                  samples[0].gt_image.data, atol=1e-3)
    test = DATASETS.build(cfg.test_dataloader.dataset)
    torch.testing.assert_close(test[1]['inputs'], test[1]['inputs'])
    first = test[1]['data_samples'].kspace_mask.data
    again = test[1]['data_samples'].kspace_mask.data
    torch.testing.assert_close(first, again)  # fixed test masks
    assert cfg.test_evaluator.type == 'MedicalSegMetric'


def test_sample_grid_and_zero_filled_baseline_tool(tmp_path):
    import importlib.util

    import cv2
    script = osp.join(REPO_ROOT, 'tools/experiments/phantom_samples.py')
    spec = importlib.util.spec_from_file_location('phantom_samples', script)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    dataset = tool.build_test_set(
        osp.join(REPO_ROOT, 'configs/_base_/datasets/synthetic_phantom.py'),
        num_samples=2, img_size=32)
    out = str(tmp_path / 'grid.png')
    tool.draw_grid(dataset, 2, out)
    assert cv2.imread(out).shape == (64, 128, 3)
    metrics = tool.score_zero_filled(dataset, 2)
    # undersampling loses information: finite PSNR, SSIM below 1
    assert 10 < metrics['PSNR_PhantomCT'] < 60
    assert metrics['SSIM_PhantomMRI'] < 1.0


def test_dataloader_to_metric_with_the_ground_truth_as_prediction():
    """The packed phantoms reach MedicalSegMetric as the runner passes
    them (DataLoader + default_collate + Evaluator)."""
    from mmengine.evaluator import Evaluator
    from mmengine.structures import PixelData
    from torch.utils.data import DataLoader
    pytest.importorskip('monai')
    register_all_modules()
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs/_base_/datasets/synthetic_phantom.py'))
    cfg.test_dataloader.dataset.update(num_samples=4, img_size=32)
    loader = DataLoader(DATASETS.build(cfg.test_dataloader.dataset),
                        batch_size=2, collate_fn=default_collate)
    evaluator = Evaluator(cfg.test_evaluator)
    for batch in loader:
        for inputs, sample in zip(batch['inputs'], batch['data_samples']):
            sample.pred_mask = PixelData(data=sample.gt_mask.data.clone())
            sample.pred_image = PixelData(data=inputs.clone())
        evaluator.process(batch['data_samples'], batch)
    metrics = evaluator.evaluate(4)
    assert metrics['Dice'] == 1.0 and metrics['IoU'] == 1.0
    assert metrics['Dice_PhantomCT/lesion'] == 1.0
    assert metrics['HD95'] == 0.0
    assert metrics['PSNR_CT'] < 60 and metrics['PSNR_MRI'] < 60
    assert metrics['num_images'] == 4
