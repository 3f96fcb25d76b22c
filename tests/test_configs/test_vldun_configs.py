"""VL-DUN-tiny's comparisons and ablations (issue 12): every config builds
with the size its header states, shares VL-DUN-tiny's data, schedule,
evaluator and test split, and trains and tests one step on tiny phantom
slices through its own pipelines."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate

from dunseg.registry import DATASETS, METRICS, MODELS
from dunseg.utils import register_all_modules

from ..conftest import REPO_ROOT

VLDUN_TINY = 'configs/vldun/vldun_tiny_0.6k_synthetic-phantom-64x64.py'
WO_FD = 'configs/vldun/vldun-wo-fd_tiny_0.6k_synthetic-phantom-64x64.py'
WO_CLIP = 'configs/vldun/vldun-wo-clip_tiny_0.6k_synthetic-phantom-64x64.py'
WO_SEGHEAD = ('configs/vldun/'
              'vldun-wo-seghead_tiny_0.6k_synthetic-phantom-64x64.py')
WO_RECHEAD = ('configs/vldun/'
              'vldun-wo-rechead_tiny_0.6k_synthetic-phantom-64x64.py')
KNOWN_OPERATOR = ('configs/vldun/'
                  'vldun-known-op_tiny_0.6k_synthetic-phantom-64x64.py')
KNOWN_OPERATOR_WO_SEGHEAD = (
    'configs/vldun/vldun-known-op-wo-seghead_tiny_0.6k_synthetic-phantom-64x64.py')
KNOWN_OPERATOR_SEQUENTIAL = (
    'configs/vldun/vldun-known-op-restore-then-segment-unet16_tiny_0.6k_synthetic-phantom-64x64.py')
KNOWN_OPERATOR_SEQUENTIAL_UNET4 = (
    'configs/vldun/vldun-known-op-restore-then-segment_tiny_0.6k_synthetic-phantom-64x64.py')
UNET = 'configs/unet/unet_tiny_0.6k_synthetic-phantom-64x64.py'
SEQUENTIAL = ('configs/vldun/'
              'vldun-restore-then-segment_tiny_0.6k_synthetic-phantom-64x64.py')
SEQUENTIAL_UNET16 = ('configs/vldun/'
                     'vldun-restore-then-segment-unet16_tiny_0.6k_synthetic-phantom-64x64.py')
CONFIGS = [
    VLDUN_TINY, WO_FD, WO_CLIP, WO_SEGHEAD, WO_RECHEAD, KNOWN_OPERATOR,
    KNOWN_OPERATOR_WO_SEGHEAD, UNET, SEQUENTIAL, SEQUENTIAL_UNET16,
    KNOWN_OPERATOR_SEQUENTIAL, KNOWN_OPERATOR_SEQUENTIAL_UNET4
]

# config: (all parameters, parameters with requires_grad), as the headers
# and configs/vldun/README.md state them
SIZES = {
    # 3,388,291 of them the frozen CLIP dual prior
    VLDUN_TINY: (5_207_019, 1_818_728),
    WO_FD: (5_207_019, 1_818_728),
    # no CLIP; 784 for the learned prompts
    WO_CLIP: (1_819_512, 1_819_512),
    # VL-DUN-tiny less its 18,692-parameter Seg. Head
    WO_SEGHEAD: (5_188_327, 1_800_036),
    # the same network; only its restoration loss is weighted 0
    WO_RECHEAD: (5_207_019, 1_818_728),
    # no CLIP, no learned operators (406,144): the k-space mask instead
    KNOWN_OPERATOR: (1_412_584, 1_412_584),
    # less its Seg. Head
    KNOWN_OPERATOR_WO_SEGHEAD: (1_393_892, 1_393_892),
    # mmseg's U-Net at width 16 (1,811,952) + the Seg. Head (14,084)
    UNET: (1_826_036, 1_826_036),
    # the frozen step-1 restorer + a width-4 U-Net, the only trained part
    SEQUENTIAL: (5_303_175, 114_848),
    # the same with the segmentation-only U-Net (width 16)
    SEQUENTIAL_UNET16: (7_014_363, 1_826_036),
    # its known-operator restorer (frozen) + the same U-Net
    KNOWN_OPERATOR_SEQUENTIAL: (3_219_928, 1_826_036),
    # ... and with the width-4 U-Net
    KNOWN_OPERATOR_SEQUENTIAL_UNET4: (1_508_740, 114_848),
}
# trained over both steps (the restorer in step 1, the U-Net in step 2)
SEQUENTIAL_TRAINED = {
    SEQUENTIAL: 1_914_884,
    SEQUENTIAL_UNET16: 3_626_072,
    KNOWN_OPERATOR_SEQUENTIAL: 3_219_928,
    KNOWN_OPERATOR_SEQUENTIAL_UNET4: 1_508_740
}
# the restoration-only config whose checkpoint step 2 loads
STEP1 = {
    SEQUENTIAL: WO_SEGHEAD,
    SEQUENTIAL_UNET16: WO_SEGHEAD,
    KNOWN_OPERATOR_SEQUENTIAL: KNOWN_OPERATOR_WO_SEGHEAD,
    KNOWN_OPERATOR_SEQUENTIAL_UNET4: KNOWN_OPERATOR_WO_SEGHEAD
}


@pytest.fixture(scope='module')
def step1_checkpoint(tmp_path_factory):
    """Checkpoints of the restoration-only models (step 1), by config."""
    register_all_modules()
    paths = {}
    for config in set(STEP1.values()):
        cfg = Config.fromfile(osp.join(REPO_ROOT, config))
        torch.manual_seed(0)
        restorer = MODELS.build(cfg.model)
        path = str(tmp_path_factory.mktemp('step1') / 'iter_600.pth')
        torch.save(
            dict(meta=dict(iter=600), state_dict=restorer.state_dict()),
            path)
        paths[config] = path
    return paths


def load(config, step1_checkpoint=None) -> Config:
    register_all_modules()
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    if config in SEQUENTIAL_TRAINED and step1_checkpoint is not None:
        cfg.model.restorer_checkpoint = step1_checkpoint[STEP1[config]]
    return cfg


def count(model):
    return (sum(p.numel() for p in model.parameters()),
            sum(p.numel() for p in model.parameters() if p.requires_grad))


@pytest.mark.parametrize('config', CONFIGS)
def test_config_builds_with_the_stated_size(config, step1_checkpoint):
    cfg = load(config, step1_checkpoint)
    if config in SEQUENTIAL_TRAINED:  # loads the checkpoint: real tensors
        model = MODELS.build(cfg.model)
        assert not any(p.requires_grad for p in model.restorer.parameters())
        # trained over both steps, as the header says
        assert (count(model)[1] +
                SIZES[STEP1[config]][1] == SEQUENTIAL_TRAINED[config])
    else:
        with torch.device('meta'):
            model = MODELS.build(cfg.model)
    assert count(model) == SIZES[config]


def test_comparison_sizes_match_vldun_tiny():
    """The segmentation-only U-Net within 1 % of VL-DUN-tiny's trained
    parameters; the sequential pipeline, both steps, within 6 %."""
    trained = SIZES[VLDUN_TINY][1]
    assert abs(SIZES[UNET][1] / trained - 1) < 0.01
    sequential = SIZES[SEQUENTIAL][1] + SIZES[WO_SEGHEAD][1]
    assert abs(sequential / trained - 1) < 0.06


SHARED = ('train_dataloader', 'val_dataloader', 'test_dataloader',
          'val_evaluator', 'test_evaluator', 'optim_wrapper',
          'param_scheduler', 'train_cfg', 'val_cfg', 'test_cfg',
          'randomness', 'log_processor')


@pytest.mark.parametrize('config', CONFIGS[1:])
def test_same_data_schedule_evaluator_and_test_split(config):
    base = load(VLDUN_TINY)
    cfg = load(config)
    for key in SHARED:
        assert cfg[key] == base[key], key
    hooks, base_hooks = cfg.default_hooks, base.default_hooks
    # without a Seg. Head, the best checkpoint is picked by PSNR
    expected = ('PSNR' if config in (WO_SEGHEAD, KNOWN_OPERATOR_WO_SEGHEAD)
                else 'Dice')
    assert hooks.checkpoint.pop('save_best') == expected
    base_hooks.checkpoint.pop('save_best')
    assert hooks == base_hooks
    segmenter = (cfg.model.segmenter
                 if config in SEQUENTIAL_TRAINED else cfg.model)
    assert segmenter.seg_losses == base.model.seg_losses
    if config in SEQUENTIAL_TRAINED:
        # the restorer is exactly the model step 1 trains
        assert cfg.model.restorer == load(STEP1[config]).model
        # and the U-Net the one of the learned-operator pipeline
        twin = {
            KNOWN_OPERATOR_SEQUENTIAL: SEQUENTIAL_UNET16,
            KNOWN_OPERATOR_SEQUENTIAL_UNET4: SEQUENTIAL
        }.get(config)
        if twin:
            assert cfg.model.segmenter == load(twin).model.segmenter


def tiny_batch(dataset_cfg, n=2, size=32):
    """``n`` slices of ``size`` through the config's own pipeline."""
    dataset_cfg = dict(dataset_cfg, num_samples=n, img_size=size)
    dataset = DATASETS.build(dataset_cfg)
    return default_collate([dataset[i] for i in range(n)])


@pytest.mark.slow
@pytest.mark.parametrize('config', CONFIGS)
def test_one_training_and_test_step_on_tiny_slices(config,
                                                   step1_checkpoint):
    cfg = load(config, step1_checkpoint)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    data = model.data_preprocessor(
        tiny_batch(cfg.train_dataloader.dataset), True)
    losses = model(**data, mode='loss')
    seg = {'loss_seg_ce', 'loss_seg_dice'}
    if config in (UNET, *SEQUENTIAL_TRAINED):  # all they train is segmentation
        assert set(losses) == seg
    else:
        assert 'loss_rec' in losses
        assert (seg <= set(losses)) == (
            config not in (WO_SEGHEAD, KNOWN_OPERATOR_WO_SEGHEAD))
    sum(losses.values()).backward()
    if config == WO_RECHEAD:
        # only segmentation trains it: the Rec. Head stays at its zero
        # init, with zero (not missing: DDP) gradients
        assert losses['loss_rec'].item() == 0
        rec_head = model.backbone.output
        assert rec_head.weight.abs().sum() == 0
        assert rec_head.weight.grad is not None
        assert rec_head.weight.grad.abs().sum() == 0
        assert any(p.grad.abs().sum() > 0
                   for p in model.backbone.parameters()
                   if p.grad is not None)
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert all(p.requires_grad for p in model.parameters()
               if p.grad is not None)

    model.eval()
    batch = tiny_batch(cfg.test_dataloader.dataset)
    samples = model(**model.data_preprocessor(batch, False), mode='predict')
    metric = METRICS.build(cfg.test_evaluator)
    metric.process(batch, [s.to_dict() for s in samples])
    scores = metric.compute_metrics(metric.results)
    assert ('Dice' in scores) == (
        config not in (WO_SEGHEAD, KNOWN_OPERATOR_WO_SEGHEAD))
    assert ('PSNR' in scores) == (config != UNET)


UNET_FULLY_SAMPLED = (
    'configs/unet/unet_tiny_0.6k_synthetic-phantom-fullysampled-64x64.py')


def test_fully_sampled_upper_bound_differs_from_the_unet_only_in_its_input():
    """The upper-bound U-Net sees the clean slice of both modalities, and
    shares everything else with the U-Net on the undersampled slices."""
    cfg, unet = load(UNET_FULLY_SAMPLED), load(UNET)
    assert cfg.model == unet.model
    for key in SHARED:
        if not key.endswith('dataloader'):
            assert cfg[key] == unet[key], key
    for split in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        ours, theirs = cfg[split].dataset.copy(), unet[split].dataset.copy()
        ours.pop('pipeline'), theirs.pop('pipeline')
        assert ours == theirs, split
    for split in ('train_dataloader', 'test_dataloader'):
        batch = tiny_batch(cfg[split].dataset, n=4)
        modalities = {s.modality for s in batch['data_samples']}
        assert modalities == {'CT', 'MRI'}
        for inputs, sample in zip(batch['inputs'], batch['data_samples']):
            clean = sample.gt_image.data
            torch.testing.assert_close(inputs, clean, rtol=0, atol=1e-5)
    # and the undersampled U-Net's input is not clean
    batch = tiny_batch(unet.test_dataloader.dataset, n=2)
    for inputs, sample in zip(batch['inputs'], batch['data_samples']):
        assert (inputs - sample.gt_image.data).abs().max() > 0.01
