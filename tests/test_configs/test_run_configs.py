import os.path as osp

import pytest
import torch
from mmengine.config import Config

from dunseg.registry import MODELS
from dunseg.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.mark.parametrize('name,params', [
    # ResNet-50 23,508,032 + RUN 43,498,671 (with its two VSS blocks)
    ('run_r50_200e_cod10k-384x384.py', 67_006_703),
    ('run_tiny_1.4k_synthetic-cod-64x64.py', 3_901_087),
    ('run_tiny_1k_synthetic-cod-degraded-64x64.py', 3_901_087),
    # the encoder-decoder baseline of the tiny RUN: same encoder, FPN decoder
    ('../sem_fpn/fpn_tiny_1.4k_synthetic-cod-64x64.py', 3_738_193),
    # Res2Net-50 v1b 23,669,352 + RUN 43,498,671
    ('run_res2net50_200e_cod10k-384x384.py', 67_168_023),
])
def test_run_configs_build_with_the_documented_size(name, params):
    register_all_modules()
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'run', name))
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) == params


def test_official_recipe_settings():
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'run',
                                   'run_r50_200e_cod10k-384x384.py'))
    assert cfg.optim_wrapper.optimizer == dict(
        type='Adam', lr=1e-4, betas=(0.9, 0.999))
    assert cfg.train_dataloader.batch_size == 3
    resizes = [t for t in cfg.train_dataloader.dataset.pipeline
               if t['type'] == 'ResizeCOD']
    assert resizes == [dict(type='ResizeCOD', scale=(384, 384))]
    for dataset in cfg.test_dataloader.dataset.datasets:
        assert dict(type='ResizeCOD', scale=(384, 384)) in dataset.pipeline
    assert cfg.model.stage_loss_weights == (1 / 16, 1 / 8, 1 / 4, 1 / 2, 1)


@pytest.mark.parametrize('name', [
    'nun_tiny_1k_synthetic-cod-degraded-64x64.py',
    'nun-wo-csc_tiny_1k_synthetic-cod-degraded-64x64.py',
    'nun-implicit_tiny_1k_synthetic-cod-degraded-64x64.py',
    'nun-last_tiny_1k_synthetic-cod-degraded-64x64.py',
    'nun-paperloss_tiny_1k_synthetic-cod-degraded-64x64.py',
    'nun-paperloss-ual_tiny_1k_synthetic-cod-degraded-64x64.py',
    'nun-rec1_tiny_1k_synthetic-cod-degraded-64x64.py',
    'nun-psnrloss_tiny_1k_synthetic-cod-degraded-64x64.py',
    'nun-input-aware_tiny_1k_synthetic-cod-degraded-64x64.py'
])
def test_nun_tiny_configs_train_with_the_run_tiny_degraded_recipe(name):
    """NUN's central claim compares NUN-tiny with RUN-tiny on the same data,
    schedule and test splits; a schedule change in one must reach both."""
    run = Config.fromfile(
        osp.join(ROOT, 'configs', 'run',
                 'run_tiny_1k_synthetic-cod-degraded-64x64.py'))
    nun = Config.fromfile(osp.join(ROOT, 'configs', 'nun', name))
    for key in ('train_cfg', 'param_scheduler', 'optim_wrapper',
                'custom_hooks', 'randomness', 'test_dataloader'):
        assert nun[key] == run[key], key
    assert nun.default_hooks.checkpoint == run.default_hooks.checkpoint
    nun_data, run_data = (c.train_dataloader for c in (nun, run))
    assert nun_data.batch_size == run_data.batch_size
    for key in ('type', 'degradation', 'img_size', 'num_samples', 'seed',
                'split', 'difficulty'):
        assert nun_data.dataset.get(key) == run_data.dataset.get(key), key
    # the shortened schedule of 2026-12-02: 1,000 iterations, 35 % clean
    assert run.train_cfg.max_iters == 1000
    assert run.custom_hooks == [dict(type='CleanWarmupHook', clean_iters=350)]
    assert run.train_cfg.val_interval == run.default_hooks.checkpoint.interval
