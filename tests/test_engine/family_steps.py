"""One training batch and model per family's tiny config, for the engine
tests that run a single step of every family (host-sync, mixed precision).

Images are shrunk where the config allows it (the CLIP-guided families keep
the 64 x 64 input their tiny CLIP was configured with) and batches hold two
samples, so one step takes seconds.
"""
import copy
import os.path as osp
import random

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import FUNCTIONS

from dunseg.registry import DATASETS, MODELS
from dunseg.utils import register_all_modules

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

#: family -> (tiny config, training-set image size for the test)
FAMILY_CONFIGS = {
    'rpcanet-plus': (
        'configs/rpcanet/rpcanet-plus_k6b4_0.5k_synthetic-sirst-128x128.py',
        (32, 32)),
    'vlunet': ('configs/vlunet/vlunet_tiny_5k_synthetic-degradation-64x64.py',
               64),
    'run': ('configs/run/run_tiny_1.4k_synthetic-cod-64x64.py', (32, 32)),
    'nun': ('configs/nun/nun_tiny_1k_synthetic-cod-degraded-64x64.py',
            (64, 64)),
    'vldun': ('configs/vldun/vldun_tiny_0.6k_synthetic-phantom-64x64.py',
              64),
    'daclip': ('configs/daclip/daclip_tiny_6e_synthetic-degradation-64x64.py',
               64),
    'clip-dual-prior': (
        'configs/vldun/clip-dual-prior_tiny_0.5k_synthetic-phantom-64x64.py',
        64),
}

BATCH_SIZE = 2


def load_family_config(family: str) -> Config:
    path, _ = FAMILY_CONFIGS[family]
    return Config.fromfile(osp.join(REPO_ROOT, path))


def build_family_model(family: str, seed: int = 0) -> torch.nn.Module:
    """The family's tiny model in training mode, initialised from ``seed``."""
    register_all_modules(init_default_scope=True)
    cfg = load_family_config(family)
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    if hasattr(model, 'init_weights'):
        model.init_weights()
    return model.train()


def build_family_batch(family: str, batch_size: int = BATCH_SIZE) -> dict:
    """A collated training batch of ``batch_size`` samples, as the family's
    train dataloader would deliver it (same dataset, pipeline, collate)."""
    register_all_modules(init_default_scope=True)
    cfg = load_family_config(family)
    _, img_size = FAMILY_CONFIGS[family]
    loader_cfg = cfg.train_dataloader
    dataset_cfg = copy.deepcopy(loader_cfg.dataset)
    dataset_cfg['num_samples'] = batch_size
    dataset_cfg['img_size'] = img_size
    # the same batch on every call: the augmentations draw from these
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    dataset = DATASETS.build(dataset_cfg)
    collate_cfg = loader_cfg.get('collate_fn', None)
    collate = (FUNCTIONS.get(collate_cfg['type'])
               if collate_cfg is not None else pseudo_collate)
    return collate([dataset[i] for i in range(batch_size)])


def build_family_optim_wrapper(family: str, model: torch.nn.Module,
                               **overrides):
    """The family's optimiser wrapper (``overrides`` replace its keys)."""
    from mmengine.optim import build_optim_wrapper
    cfg = load_family_config(family)
    wrapper_cfg = copy.deepcopy(cfg.optim_wrapper)
    wrapper_cfg.update(overrides)
    return build_optim_wrapper(model, wrapper_cfg)
