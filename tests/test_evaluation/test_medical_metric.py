"""MedicalSegMetric against values worked out by hand (overlapping squares)
and computed independently (HD95 from boundary-point distances, PSNR from
a known mean squared error)."""
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.structures import PixelData
from scipy import ndimage
from scipy.spatial.distance import cdist

from dunseg.evaluation.metrics import MedicalSegMetric, segmentation_scores
from dunseg.structures import DunSegDataSample

from ..conftest import REPO_ROOT

pytest.importorskip('monai')


def square(size=12, top=2, left=2, side=4, value=1):
    mask = np.zeros((size, size), np.uint8)
    mask[top:top + side, left:left + side] = value
    return mask


def sample(pred, gt, dataset='A', modality='MRI', num_classes=2,
           pred_image=None, gt_image=None, input_image=None, classes=None):
    s = DunSegDataSample()
    s.pred_mask = PixelData(data=torch.from_numpy(pred[None]))
    s.gt_mask = PixelData(data=torch.from_numpy(gt[None]))
    for name, img in (('pred_image', pred_image), ('gt_image', gt_image),
                      ('input_image', input_image)):
        if img is not None:
            setattr(s, name, PixelData(data=torch.from_numpy(img[None])))
    meta = dict(dataset_name=dataset, modality=modality,
                num_classes=num_classes, img_id=f'{dataset}/x')
    if classes:
        meta['classes'] = classes
    s.set_metainfo(meta)
    return s


def evaluate(samples, **kwargs):
    evaluator = Evaluator(MedicalSegMetric(**kwargs))
    evaluator.process(samples)
    return evaluator.evaluate(len(samples))


def test_two_overlapping_squares():
    # 4x4 squares shifted by one pixel diagonally: 3x3 = 9 px in common
    gt, pred = square(top=2, left=2), square(top=3, left=3)
    metrics = evaluate([sample(pred, gt, classes=('background', 'lesion'))])
    assert metrics['Dice'] == pytest.approx(2 * 9 / (16 + 16), abs=1e-4)
    assert metrics['IoU'] == pytest.approx(9 / (16 + 16 - 9), abs=1e-4)
    assert metrics['Dice_A/lesion'] == metrics['Dice']
    # background: 144 - 16 px each, 144 - 23 in common
    assert metrics['Dice_A/background'] == pytest.approx(
        2 * 121 / (128 + 128), abs=1e-4)
    assert metrics['num_images'] == 1


def test_multiclass_absent_classes_and_per_dataset_average():
    gt = square(top=1, left=1, value=1) + square(top=7, left=7, value=2)
    pred = square(top=1, left=1, value=1)  # class 2 missed, 3 absent
    scores = segmentation_scores(torch.from_numpy(pred[None]).long(),
                                 torch.from_numpy(gt[None]).long(), 4)
    np.testing.assert_allclose(scores['dice'][1:3], [1.0, 0.0])
    assert np.isnan(scores['dice'][3])  # not in the ground truth: skipped
    a = sample(pred, gt, dataset='A', num_classes=4)
    b = sample(square(), square(), dataset='B', modality='CT')
    metrics = evaluate([a, b])
    assert metrics['Dice_A'] == pytest.approx(0.5)  # (1 + 0) / 2
    assert metrics['Dice_B'] == pytest.approx(1.0)
    assert metrics['Dice'] == pytest.approx(0.75)  # mean over datasets
    assert np.isnan(metrics['Dice_A/class3'])
    # scoring absent classes: empty prediction of an empty class counts 1
    metrics = evaluate([a], ignore_empty=False)
    assert metrics['Dice_A'] == pytest.approx(2 / 3, abs=1e-4)
    # a false positive on a slice without that class counts 0
    fp = gt.copy()
    fp[0, 0] = 3
    metrics = evaluate([sample(fp, gt, num_classes=4)], ignore_empty=False)
    assert metrics['Dice_A/class3'] == 0.0


def boundary_hd95(a, b):
    """95th-percentile symmetric Hausdorff distance between the boundary
    pixels of two masks, from all pairwise distances."""
    def edge(m):
        m = m.astype(bool)
        return np.argwhere(m & ~ndimage.binary_erosion(m))
    pa, pb = edge(a), edge(b)
    d = cdist(pa, pb)
    return max(np.percentile(d.min(1), 95), np.percentile(d.min(0), 95))


def test_hd95_matches_boundary_distances():
    gt = square(size=20, top=3, left=3, side=8)
    pred = square(size=20, top=5, left=4, side=10)
    expected = boundary_hd95(pred, gt)
    assert expected > 1
    metrics = evaluate([sample(pred, gt)], hd95=True)
    assert metrics['HD95'] == pytest.approx(expected, abs=1e-2)
    # undefined when the prediction is empty: skipped and counted
    metrics = evaluate([sample(np.zeros_like(gt), gt)], hd95=True)
    assert np.isnan(metrics['HD95_A'])
    assert metrics['HD95_undefined_A'] == 1


def test_psnr_ssim_per_dataset_and_modality():
    rng = np.random.default_rng(0)
    gt = rng.uniform(0.1, 0.7, (16, 16)).astype(np.float32)
    pred = gt + np.float32(0.1)  # MSE 0.01 -> 20 dB
    zero_filled = gt + np.float32(0.2)  # MSE 0.04 -> 13.98 dB
    ct = sample(square(16), square(16), dataset='COVID', modality='CT',
                pred_image=pred, gt_image=gt, input_image=zero_filled)
    mri = sample(square(16), square(16), dataset='ACDC', modality='MRI',
                 pred_image=gt - np.float32(0.05), gt_image=gt)
    metrics = evaluate([ct, mri])
    assert metrics['PSNR_COVID'] == pytest.approx(20.0, abs=1e-2)
    assert metrics['PSNR_CT'] == metrics['PSNR_COVID']
    assert metrics['input_PSNR_COVID'] == pytest.approx(
        10 * np.log10(1 / 0.04), abs=1e-2)
    assert metrics['PSNR_ACDC'] == pytest.approx(
        10 * np.log10(1 / 0.0025), abs=1e-2)
    assert metrics['PSNR'] == pytest.approx(
        (metrics['PSNR_ACDC'] + metrics['PSNR_COVID']) / 2, abs=0.01)
    assert 'input_PSNR_ACDC' not in metrics  # no input image given
    assert 0 < metrics['SSIM_COVID'] < 1.0


def test_errors_name_the_sample():
    with pytest.raises(ValueError, match='num_classes is 2'):
        evaluate([sample(square(value=3), square())])
    s = sample(square(), square())
    s.pred_mask = PixelData(data=torch.rand(1, 12, 12))
    with pytest.raises(TypeError, match='class indices'):
        evaluate([s])
    bare = DunSegDataSample()
    bare.set_metainfo(dict(img_id='A/y'))
    with pytest.raises(KeyError, match='A/y'):
        evaluate([bare])


def test_medical_requirements_keep_the_runtime_pins():
    """requirements/medical.txt installed beside runtime.txt leaves every
    runtime pin satisfied and pip's dependency graph consistent."""
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import Requirement
    for name in ('runtime.txt', 'medical.txt'):
        with open(osp.join(REPO_ROOT, 'requirements', name)) as f:
            lines = [ln.split('#')[0].strip() for ln in f]
        for line in filter(None, lines):
            req = Requirement(line)
            try:
                installed = version(req.name)
            except PackageNotFoundError:
                pytest.fail(f'{req.name} ({name}) is not installed')
            assert req.specifier.contains(installed, prereleases=True), (
                f'{req.name} {installed} breaks {line!r} ({name})')
    check = subprocess.run([sys.executable, '-m', 'pip', 'check'],
                           capture_output=True, text=True, timeout=120)
    conflicts = [ln for ln in check.stdout.splitlines()
                 if any(p in ln.lower()
                        for p in ('monai', 'nibabel', 'pydicom'))]
    assert not conflicts, check.stdout
