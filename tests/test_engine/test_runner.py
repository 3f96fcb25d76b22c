import glob
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook

from dunseg.registry import HOOKS, METRICS, RUNNERS
from dunseg.utils import register_all_modules

from ..conftest import write_tiny_config

register_all_modules(init_default_scope=False)


class SimulatedCrash(RuntimeError):
    pass


@HOOKS.register_module(force=True)
class CrashAfterIterHook(Hook):
    """Kills training right after iteration ``crash_iter`` completes."""

    def __init__(self, crash_iter: int) -> None:
        self.crash_iter = crash_iter

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if runner.iter + 1 == self.crash_iter:
            raise SimulatedCrash(f'simulated kill after iter {runner.iter + 1}')


@HOOKS.register_module(force=True)
class CountItersHook(Hook):
    """Records which iterations a run actually trained."""
    trained = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        CountItersHook.trained.append(runner.iter + 1)


def _run(config_path, work_dir, resume=False, custom_hooks=None):
    cfg = Config.fromfile(config_path)
    cfg.work_dir = str(work_dir)
    cfg.resume = resume
    cfg.experiment_name = f'{osp.basename(str(work_dir))}-{resume}'
    if custom_hooks:
        cfg.custom_hooks = custom_hooks
    runner = RUNNERS.build(cfg)
    runner.train()
    return runner


def test_killed_and_resumed_run_matches_uninterrupted(tmp_path):
    config = write_tiny_config(tmp_path, max_iters=6, val_interval=100,
                               ckpt_interval=3)
    straight = _run(config, tmp_path / 'straight')
    expected = {k: v.clone() for k, v in straight.model.state_dict().items()}

    with pytest.raises(SimulatedCrash):
        _run(config, tmp_path / 'resumed',
             custom_hooks=[dict(type='CrashAfterIterHook', crash_iter=4)])
    assert osp.isfile(tmp_path / 'resumed' / 'iter_3.pth')
    CountItersHook.trained = []
    resumed = _run(config, tmp_path / 'resumed', resume=True,
                   custom_hooks=[dict(type='CountItersHook')])
    assert CountItersHook.trained == [4, 5, 6]  # continued, not restarted
    assert resumed.iter == 6
    for key, value in resumed.model.state_dict().items():
        torch.testing.assert_close(value, expected[key], rtol=0, atol=1e-6,
                                   msg=f'{key} differs after resume')


def test_checkpoints_load_weights_only_and_leave_no_temp_files(tmp_path):
    config = write_tiny_config(tmp_path, max_iters=2, val_interval=2,
                               ckpt_interval=2)
    _run(config, tmp_path / 'run')
    ckpt = torch.load(tmp_path / 'run' / 'iter_2.pth', weights_only=True)
    assert {'meta', 'state_dict', 'message_hub', 'optimizer',
            'param_schedulers'} <= set(ckpt)
    assert not glob.glob(str(tmp_path / 'run' / '.*tmp*'))


@METRICS.register_module(force=True)
class CountImagesMetric(BaseMetric):
    """An integer and a float result, as RestorationMetric reports."""

    def process(self, data_batch, data_samples) -> None:
        self.results.extend(1 for _ in data_samples)

    def compute_metrics(self, results) -> dict:
        return dict(num_images=len(results), score=0.5)


def test_integer_metrics_reach_the_json_results_as_integers(tmp_path):
    config = write_tiny_config(
        tmp_path, max_iters=1, val_interval=100, ckpt_interval=100,
        extra="\ntest_evaluator = dict(type='CountImagesMetric')\n")
    runner = _run(config, tmp_path / 'run')
    runner.test()
    results_file, = glob.glob(osp.join(runner.log_dir, '*.json'))
    with open(results_file) as f:
        results = json.load(f)
    assert isinstance(results['num_images'], int) and \
        results['num_images'] > 0
    assert results['score'] == 0.5
