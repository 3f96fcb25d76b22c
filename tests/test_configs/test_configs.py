"""Every shipped config parses, passes ``check_config`` and builds its
model."""
import glob
import os.path as osp
import re

import pytest
from mmengine.config import Config

from dunseg.registry import MODELS
from dunseg.utils import register_all_modules
from dunseg.utils.config import check_config

from ..conftest import REPO_ROOT

CONFIGS = sorted(
    osp.relpath(p, REPO_ROOT)
    for p in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'),
                       recursive=True)
    if '_base_' not in p)


def test_configs_found():
    assert len(CONFIGS) >= 13, CONFIGS


# Configs whose model needs weight files that cannot be downloaded here:
# building one must stop with an error that says which file to provide.
NEEDS_LOCAL_WEIGHTS = {
    'configs/nun/nun-iqa_r50_160e_cod10k-352x352.py': 'pass its local path',
}


@pytest.mark.parametrize('config', CONFIGS)
def test_config_parses_and_builds(config):
    register_all_modules()
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    check_config(cfg, config)
    if config in NEEDS_LOCAL_WEIGHTS:
        with pytest.raises((ValueError, FileNotFoundError, ImportError),
                           match=NEEDS_LOCAL_WEIGHTS[config]):
            MODELS.build(cfg.model)
        return
    step1 = cfg.model.get('restorer_checkpoint')
    if step1 and not osp.isfile(step1):
        # step 2 of a two-step recipe (RestoreThenSegment) before step 1
        # ran: building names the checkpoint step 1 writes
        # (tests/test_configs/test_vldun_configs.py builds it with one)
        with pytest.raises(FileNotFoundError, match=re.escape(step1)):
            MODELS.build(cfg.model)
        return
    model = MODELS.build(cfg.model)
    assert model is not None
    # logging mode follows the training loop, so epoch-based recipes log
    # per epoch and iteration-based ones per iteration
    if cfg.get('train_cfg') and cfg.train_cfg.get('type'):
        by_epoch = cfg.train_cfg.type == 'EpochBasedTrainLoop'
        assert cfg.get('log_processor', {}).get('by_epoch', True) == by_epoch


@pytest.mark.parametrize('config', CONFIGS)
def test_schedule_follows_the_loop_when_its_length_is_overridden(config):
    """``--cfg-options train_cfg.max_iters=N`` must not leave the schedule
    at the config's length (lr 0 at the end, or no decay)."""
    from dunseg.engine.schedule import check_schedule_matches_loop
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    schedulers = cfg.get('param_scheduler')
    train_cfg = cfg.get('train_cfg') or {}
    if not schedulers or 'type' not in train_cfg:
        pytest.skip('no training schedule')
    schedulers = schedulers if isinstance(schedulers, list) else [schedulers]
    by_epoch_loop = train_cfg['type'] == 'EpochBasedTrainLoop'
    length = train_cfg['max_epochs' if by_epoch_loop else 'max_iters']
    for scale in (1, 0.5, 2):
        new_length = int(length * scale)
        check_schedule_matches_loop(
            schedulers, max_iters=new_length * (1 if not by_epoch_loop else
                                                1000),
            max_epochs=new_length, by_epoch_loop=by_epoch_loop)
