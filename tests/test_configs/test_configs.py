"""Every shipped config parses, passes ``check_config`` and builds its model."""
import glob
import os.path as osp

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


@pytest.mark.parametrize('config', CONFIGS)
def test_config_parses_and_builds(config):
    register_all_modules()
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    check_config(cfg, config)
    model = MODELS.build(cfg.model)
    assert model is not None
    # logging mode follows the training loop, so epoch-based recipes log
    # per epoch and iteration-based ones per iteration
    if cfg.get('train_cfg') and cfg.train_cfg.get('type'):
        by_epoch = cfg.train_cfg.type == 'EpochBasedTrainLoop'
        assert cfg.get('log_processor', {}).get('by_epoch', True) == by_epoch
