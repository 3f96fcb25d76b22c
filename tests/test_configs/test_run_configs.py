import os.path as osp

import pytest
import torch
from mmengine.config import Config

from dunseg.registry import MODELS
from dunseg.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.mark.parametrize('name,params', [
    # ResNet-50 23,508,032 + RUN 43,498,671 (with its two VSS blocks)
    ('run_r50_cod10k.py', 67_006_703),
    ('run-tiny_synthetic-cod.py', 3_901_087),
    ('run-tiny_synthetic-cod-degraded.py', 3_901_087),
    # the encoder-decoder baseline of the tiny RUN: same encoder, FPN decoder
    ('../sem_fpn/fpn-tiny_synthetic-cod.py', 3_738_193),
    # Res2Net-50 v1b 23,669,352 + RUN 43,498,671
    ('run_res2net50_cod10k.py', 67_168_023),
])
def test_run_configs_build_with_the_documented_size(name, params):
    register_all_modules()
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'run', name))
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) == params


def test_official_recipe_settings():
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'run',
                                   'run_r50_cod10k.py'))
    assert cfg.optim_wrapper.optimizer == dict(
        type='Adam', lr=1e-4, betas=(0.9, 0.999))
    assert cfg.train_dataloader.batch_size == 3
    resizes = [t for t in cfg.train_dataloader.dataset.pipeline
               if t['type'] == 'ResizeCOD']
    assert resizes == [dict(type='ResizeCOD', scale=(384, 384))]
    for dataset in cfg.test_dataloader.dataset.datasets:
        assert dict(type='ResizeCOD', scale=(384, 384)) in dataset.pipeline
    assert cfg.model.stage_loss_weights == (1 / 16, 1 / 8, 1 / 4, 1 / 2, 1)
