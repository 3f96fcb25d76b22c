from types import SimpleNamespace

import numpy as np
import pytest
from mmengine.dataset import ConcatDataset

from dunseg.datasets import SyntheticCODDataset
from dunseg.registry import HOOKS
from dunseg.utils import register_all_modules

register_all_modules()


def _degraded(clean_fraction=0.0):
    return SyntheticCODDataset(
        num_samples=6, img_size=(32, 32), seed=3,
        degradation=dict(kind='haze', level='heavy',
                         clean_fraction=clean_fraction))


def _runner(dataset, num_workers=0, iteration=0):
    loader = SimpleNamespace(dataset=dataset, num_workers=num_workers)
    return SimpleNamespace(train_dataloader=loader, iter=iteration)


def _all_clean(dataset):
    samples = [dataset.generate(i) for i in range(len(dataset))]
    return all(np.array_equal(s['img'], s['gt_img']) for s in samples)


def test_clean_first_then_as_configured():
    dataset = _degraded(clean_fraction=0.25)
    hook = HOOKS.build(dict(type='CleanWarmupHook', clean_iters=3))
    runner = _runner(ConcatDataset([dataset, _degraded()]))
    hook.before_train(runner)
    assert _all_clean(dataset)
    # the loop fetches batch i + 1 after after_train_iter of iteration i
    for runner.iter in range(2):
        hook.after_train_iter(runner, batch_idx=runner.iter)
        assert dataset.clean_fraction == 1.0
    runner.iter = 2
    hook.after_train_iter(runner, batch_idx=2)
    assert dataset.clean_fraction == 0.25
    assert not _all_clean(dataset)
    hook.after_train(runner)
    assert dataset.clean_fraction == 0.25


def test_resume_after_the_warmup_starts_degraded():
    dataset = _degraded()
    hook = HOOKS.build(dict(type='CleanWarmupHook', clean_iters=3))
    hook.before_train(_runner(dataset, iteration=5))
    assert dataset.clean_fraction == 0.0
    assert not _all_clean(dataset)


def test_misuse_is_an_error():
    with pytest.raises(ValueError, match='clean_iters'):
        HOOKS.build(dict(type='CleanWarmupHook', clean_iters=-1))
    hook = HOOKS.build(dict(type='CleanWarmupHook', clean_iters=3))
    with pytest.raises(ValueError, match='num_workers=0'):
        hook.before_train(_runner(_degraded(), num_workers=2))
    clean_only = SyntheticCODDataset(num_samples=2, img_size=(32, 32))
    with pytest.raises(ValueError, match='SyntheticCODDataset'):
        hook.before_train(_runner(clean_only))
