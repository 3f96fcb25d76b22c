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
            raise SimulatedCrash(
                f'simulated kill after iter {runner.iter + 1}')


@HOOKS.register_module(force=True)
class CountItersHook(Hook):
    """Records which iterations a run actually trained."""
    trained = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        CountItersHook.trained.append(runner.iter + 1)


def _run(config_path, work_dir, resume=False, custom_hooks=None,
         checkpoint_hook=None, **overrides):
    cfg = Config.fromfile(config_path)
    cfg.merge_from_dict(overrides)
    if checkpoint_hook:
        cfg.default_hooks.checkpoint.update(checkpoint_hook)
    cfg.work_dir = str(work_dir)
    cfg.resume = resume
    cfg.experiment_name = f'{osp.basename(str(work_dir))}-{resume}'
    if custom_hooks:
        cfg.custom_hooks = custom_hooks
    runner = RUNNERS.build(cfg)
    runner.train()
    return runner


@pytest.mark.slow
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


# ----------------------------------------- nothing lost, nothing silent
class SimulatedKill(RuntimeError):
    pass


def _fail_on_put(monkeypatch, prefix, nth):
    """Make the ``nth`` write of a temporary file '.<prefix>...' fail."""
    from mmengine.fileio.backends import LocalBackend
    original = LocalBackend.put
    seen = []

    def put(self, obj, filepath):
        if osp.basename(str(filepath)).startswith('.' + prefix):
            seen.append(filepath)
            if len(seen) == nth:
                raise SimulatedKill(f'killed while writing {filepath}')
        return original(self, obj, filepath)

    monkeypatch.setattr(LocalBackend, 'put', put)


def test_rotation_deletes_only_after_the_new_checkpoint_is_saved(
        tmp_path, monkeypatch):
    config = write_tiny_config(
        tmp_path, max_iters=4, val_interval=100, ckpt_interval=1)
    _fail_on_put(monkeypatch, 'iter_', nth=3)
    with pytest.raises(SimulatedKill):
        _run(config, tmp_path / 'run',
             checkpoint_hook=dict(max_keep_ckpts=1))
    work = tmp_path / 'run'
    # MMEngine deleted iter_2 before writing iter_3: nothing was left
    assert sorted(p.name for p in work.glob('*.pth')) == ['iter_2.pth']
    assert (work / 'last_checkpoint').read_text().endswith('iter_2.pth')
    torch.load(work / 'iter_2.pth', weights_only=True)
    assert not list(work.glob('.*tmp*'))


def test_previous_best_survives_a_failed_best_save(tmp_path, monkeypatch):
    config = write_tiny_config(
        tmp_path, max_iters=6, val_interval=1, ckpt_interval=1)
    _fail_on_put(monkeypatch, 'best_', nth=2)
    with pytest.raises(SimulatedKill):
        _run(config, tmp_path / 'run',
             val_evaluator=dict(type='IncreasingScoreMetric'),
             checkpoint_hook=dict(max_keep_ckpts=1, save_best='loss_proxy',
                                  rule='greater'))
    best = list((tmp_path / 'run').glob('best_*.pth'))
    assert [p.name for p in best] == ['best_loss_proxy_iter_1.pth']
    torch.load(best[0], weights_only=True)


@METRICS.register_module(force=True)
class IncreasingScoreMetric(BaseMetric):
    """A score that improves at every validation, so every one is best."""
    calls = 0

    def process(self, data_batch, data_samples) -> None:
        self.results.append(1)

    def compute_metrics(self, results) -> dict:
        IncreasingScoreMetric.calls += 1
        return dict(loss_proxy=float(IncreasingScoreMetric.calls))


def test_resume_with_nothing_to_resume_is_an_error(tmp_path):
    config = write_tiny_config(tmp_path, max_iters=2, val_interval=100)
    with pytest.raises(FileNotFoundError, match='nothing to resume'):
        _run(config, tmp_path / 'typo', resume=True)
    cfg = Config.fromfile(config)
    cfg.work_dir = str(tmp_path / 'fresh')
    cfg.resume, cfg.resume_if_possible = True, True
    runner = RUNNERS.build(cfg)
    runner.train()  # nothing to resume: starts from scratch, as asked
    assert runner.iter == 2


def test_resume_after_a_broken_last_checkpoint_pointer(tmp_path):
    config = write_tiny_config(tmp_path, max_iters=4, val_interval=100,
                               ckpt_interval=2)
    _run(config, tmp_path / 'run')
    (tmp_path / 'run' / 'last_checkpoint').write_text('')
    CountItersHook.trained = []
    cfg = Config.fromfile(config)
    cfg.train_cfg.max_iters = 6
    cfg.work_dir, cfg.resume = str(tmp_path / 'run'), True
    cfg.custom_hooks = [dict(type='CountItersHook')]
    RUNNERS.build(cfg).train()
    assert CountItersHook.trained == [5, 6]


def test_schedule_follows_an_overridden_loop_length(tmp_path):
    config = write_tiny_config(tmp_path, max_iters=4, val_interval=100,
                               ckpt_interval=100)
    cfg = Config.fromfile(config)
    cfg.train_cfg.max_iters = 6  # as --cfg-options would
    cfg.work_dir = str(tmp_path / 'long')
    runner = RUNNERS.build(cfg)
    runner.train()
    scheduler, = runner.param_schedulers
    assert scheduler.end == 6
    # an explicit end that no longer matches the loop is refused
    cfg = Config.fromfile(config)
    cfg.param_scheduler[0]['end'] = 4
    cfg.train_cfg.max_iters = 6
    cfg.work_dir = str(tmp_path / 'mismatch')
    with pytest.raises(ValueError, match='PolyLR ends at 4 iterations'):
        RUNNERS.build(cfg).train()


@pytest.mark.slow
def test_strict_load_from_and_explicit_partial_load(tmp_path):
    from dunseg.engine import CheckpointMismatchError
    config = write_tiny_config(tmp_path, max_iters=2, val_interval=100,
                               ckpt_interval=2)
    _run(config, tmp_path / 'two_stages')
    ckpt = str(tmp_path / 'two_stages' / 'iter_2.pth')
    cfg = Config.fromfile(config)
    cfg.model.backbone.num_stages = 3
    cfg.work_dir, cfg.load_from = str(tmp_path / 'three'), ckpt
    with pytest.raises(CheckpointMismatchError, match='missing in the check'):
        RUNNERS.build(cfg).test()
    cfg.load_strict = False
    cfg.work_dir = str(tmp_path / 'three_partial')
    RUNNERS.build(cfg).test()


def test_non_finite_predictions_stop_the_test(tmp_path):
    config = write_tiny_config(tmp_path, max_iters=1, val_interval=100,
                               ckpt_interval=100)
    runner = _run(config, tmp_path / 'run')
    with torch.no_grad():
        next(runner.model.parameters()).fill_(float('nan'))
    # the synthetic samples have no file: the message names the sample
    with pytest.raises(FloatingPointError,
                       match='pred_score.* for sample 0 of batch 0'):
        runner.test()


def test_default_checkpoint_and_logger_hooks_become_dunseg_hooks(tmp_path):
    config = write_tiny_config(tmp_path, max_iters=2, val_interval=100,
                               ckpt_interval=1)

    def hooks_of(default_hooks):
        cfg = Config.fromfile(config)
        cfg.default_hooks = default_hooks
        cfg.work_dir = str(tmp_path / 'work')
        runner = RUNNERS.build(cfg)
        return {type(hook).__name__: hook for hook in runner.hooks}

    # given as MMEngine's hooks, settings kept
    hooks = hooks_of(dict(checkpoint=dict(type='CheckpointHook', interval=7),
                          logger=dict(type='LoggerHook', interval=3)))
    assert hooks['DunSegCheckpointHook'].interval == 7
    assert hooks['DunSegLoggerHook'].interval == 3
    assert 'CheckpointHook' not in hooks and 'LoggerHook' not in hooks
    # not given: MMEngine's defaults (a checkpoint every epoch), as dunseg's
    hooks = hooks_of(dict())
    assert hooks['DunSegCheckpointHook'].interval == 1
    assert 'DunSegLoggerHook' in hooks
    # None still switches the hook off
    hooks = hooks_of(dict(checkpoint=None))
    assert not {'CheckpointHook', 'DunSegCheckpointHook'} & set(hooks)
