"""Parts built for pretrained weights say so when they start random."""
import logging

import pytest
from mmengine.config import Config
from mmengine.logging import MMLogger

from dunseg.registry import MODELS, RUNNERS
from dunseg.utils import register_all_modules
from dunseg.utils.random_init import random_init_parts

from ..conftest import TINY_CLIP_32, write_tiny_config

register_all_modules(init_default_scope=False)
TINY_CLIP = Config.fromstring(TINY_CLIP_32, '.py').tiny_clip.to_dict()


def test_imagenet_encoders_without_weights_are_noted():
    resnet = MODELS.build(dict(type='ResNetEncoder', depth=50))
    (key, weights), = random_init_parts(resnet, 'model.encoder')
    assert key == 'model.encoder.pretrained' and 'ResNet-50' in weights
    # a tiny encoder trained from scratch is not a paper part
    tiny = MODELS.build(dict(type='ResNetEncoder', depth=18,
                             base_channels=8))
    assert random_init_parts(tiny) == []


@pytest.mark.slow  # builds two ViT-B-32 CLIPs (151 M parameters each)
def test_named_clip_priors_without_weights_are_noted():
    prior = MODELS.build(dict(type='DACLIPPrior', clip_model='ViT-B-32'))
    (key, weights), = random_init_parts(prior, 'model.prior')
    assert key == 'model.prior.daclip_pretrained' and 'DA-CLIP' in weights
    prior = MODELS.build(dict(type='CLIPDualPrior', clip_model='ViT-B-32',
                              modality_classes=('CT', 'MR')))
    (key, weights), = random_init_parts(prior, 'model.prior')
    assert key == 'model.prior.pretrained' and 'ViT-B-32' in weights
    tiny = MODELS.build(dict(type='CLIPDualPrior', clip_model=TINY_CLIP,
                             modality_classes=('CT', 'MR')))
    assert random_init_parts(tiny) == []


def test_the_run_log_names_the_key_to_set(tmp_path):
    config = write_tiny_config(tmp_path, max_iters=1, val_interval=100,
                               ckpt_interval=100)
    cfg = Config.fromfile(config)
    cfg.work_dir = str(tmp_path / 'run')
    runner = RUNNERS.build(cfg)
    assert runner.random_init_parts() == []
    # a part built for ImageNet weights, as the R50 configs build it
    runner.model.encoder = MODELS.build(dict(type='ResNetEncoder', depth=50))
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    MMLogger.get_current_instance().addHandler(handler)
    try:
        runner.train()
    finally:
        MMLogger.get_current_instance().removeHandler(handler)
    warnings = [r.getMessage() for r in records
                if r.levelno == logging.WARNING]
    assert any('set model.encoder.pretrained' in w for w in warnings)
