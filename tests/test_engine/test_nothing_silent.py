"""Failure paths that used to give a plausible result or lose work: testing
random weights, a diverging run, NaN checkpoints, a rerun over a finished
run."""
import glob
import hashlib
import json
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook

from dunseg.engine import (
    MissingCheckpointError,
    NonFiniteLossError,
    NonFiniteWeightsError,
)
from dunseg.registry import HOOKS, RUNNERS
from dunseg.utils import register_all_modules

from ..conftest import REPO_ROOT, write_tiny_config

register_all_modules(init_default_scope=False)


@HOOKS.register_module(force=True)
class PoisonWeightsHook(Hook):
    """Turns the first weight NaN before iteration ``at`` (the loss goes
    NaN) or, with ``after=True``, after it (the loss stays finite and only
    the saved weights would be NaN)."""

    priority = 'LOW'  # after the loss check, before the checkpoint hook

    def __init__(self, at: int, after: bool = False) -> None:
        self.at, self.after = at, after

    def _poison(self, runner):
        with torch.no_grad():
            next(runner.model.parameters()).fill_(float('nan'))

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if not self.after and runner.iter + 1 == self.at:
            self._poison(runner)

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if self.after and runner.iter + 1 == self.at:
            self._poison(runner)


def _cfg(config, work_dir, **overrides):
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(overrides)
    cfg.work_dir = str(work_dir)
    return cfg


def _hashes(directory):
    return {osp.basename(p): hashlib.md5(open(p, 'rb').read()).hexdigest()
            for p in sorted(glob.glob(osp.join(str(directory), '*.pth')))}


def _all_finite(path):
    state = torch.load(path, map_location='cpu',
                       weights_only=True)['state_dict']
    return all(torch.isfinite(v).all() for v in state.values()
               if v.is_floating_point())


def test_a_learned_model_is_not_tested_without_a_checkpoint(tmp_path):
    config = write_tiny_config(tmp_path)
    runner = RUNNERS.build(_cfg(config, tmp_path / 'none'))
    with pytest.raises(MissingCheckpointError, match='--random-weights'):
        runner.test()
    assert not glob.glob(str(tmp_path / 'none' / '*' / '*.json'))
    # on purpose: it runs, and the metrics file says what was tested
    runner = RUNNERS.build(_cfg(config, tmp_path / 'random',
                                random_weights=True))
    runner.test()
    metrics, = glob.glob(str(tmp_path / 'random' / '*' / '*.json'))
    assert 'random initialisation' in json.load(open(metrics))['weights']


def test_a_parameter_free_model_needs_no_checkpoint(tmp_path):
    cfg = Config.fromfile(osp.join(
        REPO_ROOT, ('configs/baselines/'
                    'tophat_disk5_notrain_synthetic-sirst-128x128.py')))
    cfg.work_dir = str(tmp_path)
    cfg.test_dataloader.dataset.update(num_samples=2, img_size=(32, 32))
    metrics = RUNNERS.build(cfg).test()
    assert 'weights' not in metrics


def test_a_non_finite_loss_stops_training_before_any_save(tmp_path):
    config = write_tiny_config(tmp_path, max_iters=4, val_interval=100,
                               ckpt_interval=1)
    cfg = _cfg(config, tmp_path / 'run',
               custom_hooks=[dict(type='PoisonWeightsHook', at=3)])
    cfg.default_hooks.checkpoint.max_keep_ckpts = 1
    with pytest.raises(NonFiniteLossError,
                       match=r'iteration 3: the loss is not finite \(loss='):
        RUNNERS.build(cfg).train()
    assert sorted(_hashes(tmp_path / 'run')) == ['iter_2.pth']
    assert _all_finite(tmp_path / 'run' / 'iter_2.pth')


def test_non_finite_weights_are_never_saved_nor_rotate_a_good_one(tmp_path):
    config = write_tiny_config(tmp_path, max_iters=4, val_interval=100,
                               ckpt_interval=1)
    cfg = _cfg(config, tmp_path / 'run', custom_hooks=[
        dict(type='PoisonWeightsHook', at=3, after=True)])
    cfg.default_hooks.checkpoint.max_keep_ckpts = 1
    with pytest.raises(NonFiniteWeightsError,
                       match="iter_3.pth is not written and no earlier"):
        RUNNERS.build(cfg).train()
    assert sorted(_hashes(tmp_path / 'run')) == ['iter_2.pth']
    assert _all_finite(tmp_path / 'run' / 'iter_2.pth')
    pointer = (tmp_path / 'run' / 'last_checkpoint').read_text()
    assert pointer.endswith('iter_2.pth')


def test_loading_or_resuming_non_finite_weights_is_refused(tmp_path):
    config = write_tiny_config(tmp_path, max_iters=2, val_interval=100,
                               ckpt_interval=2)
    RUNNERS.build(_cfg(config, tmp_path / 'run')).train()
    path = tmp_path / 'run' / 'iter_2.pth'
    checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    key = sorted(k for k, v in checkpoint['state_dict'].items()
                 if v.is_floating_point())[1]
    checkpoint['state_dict'][key][..., 0] = float('inf')
    torch.save(checkpoint, path)
    with pytest.raises(NonFiniteWeightsError, match=f"first is '{key}'"):
        RUNNERS.build(_cfg(config, tmp_path / 'test',
                           load_from=str(path))).test()
    cfg = _cfg(config, tmp_path / 'run', resume=True)
    cfg.train_cfg.max_iters = 4
    with pytest.raises(NonFiniteWeightsError, match=f"first is '{key}'"):
        RUNNERS.build(cfg).train()


def test_training_again_into_a_used_work_dir_loses_nothing(tmp_path):
    config = write_tiny_config(tmp_path, max_iters=2, val_interval=1,
                               ckpt_interval=2)
    RUNNERS.build(_cfg(config, tmp_path / 'run')).train()
    before = _hashes(tmp_path / 'run')
    assert 'iter_2.pth' in before and any(
        k.startswith('best_') for k in before)
    with pytest.raises(FileExistsError, match='--resume.*--work-dir.*'
                       '--overwrite'):
        RUNNERS.build(_cfg(config, tmp_path / 'run')).train()
    assert _hashes(tmp_path / 'run') == before
    # asked for explicitly, the run starts again from scratch
    RUNNERS.build(_cfg(config, tmp_path / 'run',
                       overwrite_work_dir=True)).train()


@pytest.mark.slow
def test_tools_say_what_is_wrong_without_a_traceback(tmp_path):
    config = write_tiny_config(tmp_path, max_iters=2, val_interval=100,
                               ckpt_interval=2)
    work_dir = str(tmp_path / 'run')

    def run(*args):
        return subprocess.run([sys.executable, *args], cwd=REPO_ROOT,
                              capture_output=True, text=True)

    assert run('tools/train.py', config, '--work-dir', work_dir
               ).returncode == 0
    again = run('tools/train.py', config, '--work-dir', work_dir)
    assert again.returncode != 0 and 'Traceback' not in again.stderr
    assert '--overwrite' in again.stderr
    untested = run('tools/test.py', config, '--work-dir', work_dir)
    assert untested.returncode != 0 and 'Traceback' not in untested.stderr
    assert 'no checkpoint given' in untested.stderr
    assert run('tools/test.py', config, '--work-dir', work_dir,
               '--random-weights').returncode == 0


def test_a_dangling_last_checkpoint_pointer_is_named(tmp_path):
    config = write_tiny_config(tmp_path)
    work_dir = tmp_path / 'run'
    work_dir.mkdir()
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'iter_9.pth'))
    with pytest.raises(FileNotFoundError,
                       match='last_checkpoint names .*iter_9.pth, which '
                       'does not load'):
        RUNNERS.build(_cfg(config, work_dir, resume=True)).train()
