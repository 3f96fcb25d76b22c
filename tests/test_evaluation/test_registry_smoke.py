"""Every metric registered by dunseg, fed one tiny batch.

Each metric is built from ``METRICS``, given one batch of predictions as
mmengine's ``Evaluator`` hands them over (``DataSample.to_dict()``), and
must return finite numbers from ``compute_metrics``.
``test_every_registered_metric_has_a_smoke_entry`` fails when a metric is
registered without an entry in ``TINY``.
"""
import importlib
import numbers
import pkgutil

import numpy as np
import pytest
import torch
from mmengine.structures import PixelData

import dunseg.evaluation  # registers every metric
from dunseg.registry import METRICS
from dunseg.structures import DunSegDataSample


def square(size=16, top=4, left=4, side=6):
    mask = torch.zeros(1, size, size, dtype=torch.uint8)
    mask[:, top:top + side, left:left + side] = 1
    return mask


def noisy(image, seed, amount=0.05):
    generator = torch.Generator().manual_seed(seed)
    return (image + amount * torch.randn(image.shape, generator=generator)
            ).clamp(0, 1)


def mask_predictions(n=2, name='set'):
    """Score maps that overlap square targets (ISTD and COD)."""
    samples = []
    for i in range(n):
        sample = DunSegDataSample(metainfo=dict(
            img_path=f'{i}.png', dataset_name=name, ori_shape=(16, 16)))
        sample.gt_mask = PixelData(data=square())
        score = 0.1 * torch.rand(1, 16, 16)
        score[:, 5:11, 5:11] = 0.9
        sample.pred_score = PixelData(data=score)
        sample.pred_mask = PixelData(data=(score > 0.5).to(torch.uint8))
        samples.append(sample.to_dict())
    return samples


def medical_predictions(n=2):
    samples = []
    for i in range(n):
        sample = DunSegDataSample(metainfo=dict(
            dataset_name='PhantomCT', modality='CT', num_classes=2,
            img_id=f'PhantomCT/{i}', classes=('background', 'lesion')))
        sample.gt_mask = PixelData(data=square().long())
        sample.pred_mask = PixelData(data=square(top=5, left=5).long())
        clean = torch.rand(1, 16, 16)
        sample.gt_image = PixelData(data=clean)
        sample.pred_image = PixelData(data=noisy(clean, i))
        sample.input_image = PixelData(data=noisy(clean, i + 10, 0.2))
        samples.append(sample.to_dict())
    return samples


def restoration_predictions(n=2):
    samples = []
    for i, degradation in zip(range(n), ('derain', 'dehaze')):
        sample = DunSegDataSample(metainfo=dict(
            img_path=f'{degradation}.png', degradation=degradation))
        clean = torch.rand(3, 16, 16)
        sample.gt_image = PixelData(data=clean)
        sample.pred_image = PixelData(data=noisy(clean, i))
        sample.input_image = PixelData(data=noisy(clean, i + 10, 0.2))
        samples.append(sample.to_dict())
    return samples


CLASSES = ('denoise_25', 'dehaze', 'derain')


def recognition_predictions():
    return [
        dict(degradation_label=label, pred_label=torch.tensor(pred),
             img_path=f'{i}.png')
        for i, (label, pred) in enumerate(zip((0, 1, 2, 2), (0, 1, 1, 2)))
    ]


#: name: (config, predictions, dataset_meta, keys the result must have)
TINY = {
    'ISTDMetric': (dict(type='ISTDMetric'), mask_predictions, None,
                   {'IoU', 'nIoU', 'Pd', 'Fa'}),
    'CODMetric': (dict(type='CODMetric'), mask_predictions, None,
                  {'Sm', 'MAE'}),
    'MedicalSegMetric': (dict(type='MedicalSegMetric'), medical_predictions,
                         None, {'Dice', 'PSNR', 'SSIM'}),
    'RestorationMetric': (dict(type='RestorationMetric'),
                          restoration_predictions, None,
                          {'PSNR', 'SSIM', 'input_PSNR'}),
    'DegradationRecognitionMetric': (
        dict(type='DegradationRecognitionMetric'), recognition_predictions,
        dict(degradation_classes=CLASSES), {'accuracy'}),
}


def registered_metrics():
    # every module of the package, also those no __init__ imports yet
    for info in pkgutil.walk_packages(dunseg.evaluation.__path__,
                                      'dunseg.evaluation.'):
        importlib.import_module(info.name)
    return sorted(name for name, cls in METRICS.module_dict.items()
                  if cls.__module__.startswith('dunseg'))


def test_every_registered_metric_has_a_smoke_entry():
    registered = set(registered_metrics())
    assert len(registered) >= 5
    missing = registered - set(TINY)
    assert not missing, (
        f'{sorted(missing)} registered in METRICS without a smoke entry: add '
        'a config and a tiny batch of predictions to TINY in '
        'tests/test_evaluation/test_registry_smoke.py (the fast test tier '
        'must run every metric)')
    stale = set(TINY) - registered
    assert not stale, f'{sorted(stale)} are no longer registered: remove them'


@pytest.mark.parametrize('name', sorted(TINY))
def test_one_tiny_batch_gives_finite_scores(name):
    cfg, predictions, dataset_meta, keys = TINY[name]
    if name == 'MedicalSegMetric':
        pytest.importorskip('monai')
    metric = METRICS.build(dict(cfg))
    assert isinstance(metric, METRICS.module_dict[name])
    if dataset_meta is not None:
        metric.dataset_meta = dataset_meta
    samples = predictions()
    metric.process({}, samples)
    results = metric.compute_metrics(metric.results)
    missing = {key for key in keys if not any(
        k == key or k.startswith(f'{key}_') or k.startswith(f'{key}@')
        for k in results)}
    assert not missing, (missing, sorted(results))
    numbers_seen = 0
    for key, value in results.items():
        if isinstance(value, (numbers.Number, np.number)) and not isinstance(
                value, bool):
            assert np.isfinite(value), (key, value)
            numbers_seen += 1
    assert numbers_seen, results
