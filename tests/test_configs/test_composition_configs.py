"""The cross-family configs of configs/composition: each builds with the
size configs/composition/README.md states, keeps its parent's data and
schedule, and takes one optimiser step and one test step on tiny samples
of its own pipelines."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.optim import build_optim_wrapper

from dunseg.registry import DATASETS, MODELS
from dunseg.utils import register_all_modules

from ..conftest import REPO_ROOT

C = 'configs/composition/'
VLUNET_SELECT = (C + 'vlunet-stage-select-input-aware_tiny_5k_'
                 'synthetic-degradation-64x64.py')
NUN_VLUNET = C + 'nun-vlunet-inner_tiny_1k_synthetic-cod-degraded-64x64.py'
DACLIP_PHANTOM = C + 'daclip_tiny_0.5k_synthetic-phantom-64x64.py'
VLDUN_DACLIP = C + 'vldun-daclip_tiny_0.6k_synthetic-phantom-64x64.py'
RPCA_DEGRADED = (C + 'rpcanet-plus_k6b4_0.5k_'
                 'synthetic-sirst-degraded-128x128.py')
RPCA_CLIP = (C + 'rpcanet-plus-clip-prior_k6b4_0.5k_'
             'synthetic-sirst-degraded-128x128.py')

#: config: (parent, all parameters, trained parameters)
CONFIGS = {
    VLUNET_SELECT: ('configs/vlunet/vlunet_tiny_5k_'
                    'synthetic-degradation-64x64.py', 5_196_001, 1_736_667),
    NUN_VLUNET: ('configs/nun/nun_tiny_1k_synthetic-cod-degraded-64x64.py',
                 9_834_883, 6_285_564),
    DACLIP_PHANTOM: ('configs/daclip/daclip_tiny_6e_'
                     'synthetic-degradation-64x64.py', 3_517_314, 129_153),
    VLDUN_DACLIP: ('configs/vldun/vldun_tiny_0.6k_'
                   'synthetic-phantom-64x64.py', 5_336_042, 1_818_728),
    RPCA_DEGRADED: ('configs/rpcanet/rpcanet-plus_k6b4_0.5k_'
                    'synthetic-sirst-128x128.py', 215_916, 215_916),
    RPCA_CLIP: (RPCA_DEGRADED, 3_642_405, 228_516),
}
#: what stays the parent's (the DA-CLIP tuner changes data and schedule)
SHARED = ('train_dataloader', 'val_dataloader', 'test_dataloader',
          'optim_wrapper', 'param_scheduler', 'train_cfg', 'randomness')


def load(config) -> Config:
    register_all_modules()
    return Config.fromfile(osp.join(REPO_ROOT, config))


def count(model):
    return (sum(p.numel() for p in model.parameters()),
            sum(p.numel() for p in model.parameters() if p.requires_grad))


@pytest.mark.parametrize('config', sorted(CONFIGS))
def test_config_builds_with_the_stated_size(config):
    _, total, trained = CONFIGS[config]
    with torch.device('meta'):
        model = MODELS.build(load(config).model)
    assert count(model) == (total, trained)


@pytest.mark.parametrize('config', sorted(set(CONFIGS) - {DACLIP_PHANTOM,
                                                        RPCA_DEGRADED}))
def test_parent_data_and_schedule(config):
    cfg, parent = load(config), load(CONFIGS[config][0])
    for key in SHARED:
        assert cfg.get(key) == parent.get(key), key


def test_degraded_infrared_data_differs_from_the_parent_only_in_degrading():
    cfg, parent = load(RPCA_DEGRADED), load(CONFIGS[RPCA_DEGRADED][0])
    assert cfg.model == parent.model
    for split in ('train_dataloader', 'val_dataloader'):
        ours, theirs = cfg[split].dataset, parent[split].dataset
        assert ours.pipeline[0].type == 'DegradeObservation'
        assert [t.type for t in ours.pipeline[1:]] == [
            t.type for t in theirs.pipeline]
        assert {k: v for k, v in ours.items() if k != 'pipeline'} == {
            k: v for k, v in theirs.items() if k != 'pipeline'}


def shrink(dataset_cfg, n):
    """The dataset config with ``n`` samples (per part of a concatenation)."""
    if 'datasets' in dataset_cfg:
        return dict(dataset_cfg, datasets=[
            shrink(part, n) for part in dataset_cfg['datasets']])
    return dict(dataset_cfg, num_samples=n)


def tiny_batch(dataset_cfg, n=2):
    """The first and the last of ``n`` samples per dataset part (so both
    the clean and the degraded part of a concatenation)."""
    dataset = DATASETS.build(shrink(dataset_cfg, n))
    return default_collate([dataset[0], dataset[len(dataset) - 1]])


# under a minute each on one thread, but the fast tier keeps to the RPCA
# pair (a few seconds); `make test-all` runs them all
SLOW = {NUN_VLUNET, DACLIP_PHANTOM, VLDUN_DACLIP, VLUNET_SELECT}


@pytest.mark.parametrize('config', [
    pytest.param(c, marks=(pytest.mark.slow, ) if c in SLOW else ())
    for c in sorted(CONFIGS)
])
def test_one_optimiser_step_and_one_test_step(config):
    cfg = load(config)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    before = {n: p.detach().clone() for n, p in model.named_parameters()
              if p.requires_grad}
    model.train()
    batch = tiny_batch(cfg.train_dataloader.dataset)
    log_vars = model.train_step(batch, optim_wrapper)
    assert torch.isfinite(torch.as_tensor(log_vars['loss'])), log_vars
    moved = [n for n, p in model.named_parameters()
             if n in before and not torch.equal(p, before[n])]
    assert moved, f'{config}: the optimiser step changed nothing'
    test = cfg.get('test_dataloader')
    if test is None:
        return
    model.eval()
    predictions = model.test_step(tiny_batch(test.dataset))
    assert len(predictions) == 2
    for sample in predictions:
        for key in ('pred_image', 'pred_score'):
            if key in sample:
                assert torch.isfinite(getattr(sample, key).data).all()
