# A tiny RUN that trains on the embedded SyntheticCOD data (no files needed)
# in minutes on a CPU: ResNet-18 encoder at width 16 (16/32/64/128 channels),
# RUN at 32 channels with all its modules (RSC, RSS with two VSS blocks,
# reverse-attention edge units, ROBE), 64 x 64 images, randomly initialised.
#
#   python tools/train.py configs/run/run-tiny_synthetic-cod.py
#
# Batch size 8 per process; 1,400 iterations (5.6 epochs of the 2,000 training
# images); test on the clean split and its four medium degradations. Speed
# measured here with OMP_NUM_THREADS=1 on a shared 2-core machine (load 7-11):
# 1.0-2.3 s per iteration, so the run takes 25-50 minutes; the
# full-resolution background U-net dominates (docs/benchmarks.md).
_base_ = [
    '../_base_/models/run.py', '../_base_/datasets/synthetic_cod.py',
    '../_base_/default_runtime.py'
]

img_size = (64, 64)  # (H, W)
model = dict(
    encoder=dict(type='ResNetEncoder', depth=18, base_channels=16,
                 pretrained=None),
    backbone=dict(channels=32, sparsity_channels=16, background_channels=8),
    # UAL ramp over one epoch of the iteration-based loop (250 iterations)
    uncertainty_loss=dict(ramp_iters=250))

train_pipeline = [
    dict(type='CODRandomFlip', prob=0.5),
    dict(type='CODRandomCrop', border=5),
    dict(type='CODRandomRotate', prob=0.2, max_angle=15),
    dict(type='CODColorEnhance'),
    dict(type='ResizeCOD', scale=(img_size[1], img_size[0])),
    dict(type='PackCODInputs'),
]
test_pipeline = [dict(type='PackCODInputs')]


def _test_set(degradation=None):
    return dict(
        type='SyntheticCODDataset',
        num_samples=200,
        img_size=img_size,
        seed=0,
        split='test',
        degradation=degradation,
        pipeline=test_pipeline)


train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(img_size=img_size, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0, persistent_workers=False, dataset=_test_set())
test_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(datasets=[
        _test_set(),
        _test_set(dict(kind='lowlight', level='medium')),
        _test_set(dict(kind='haze', level='medium')),
        _test_set(dict(kind='lowres', level='medium')),
        _test_set(dict(kind='combined', level='medium')),
    ]))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-3, betas=(0.9, 0.999)))
max_iters = 1400
# no end / T_max: the cosine follows train_cfg.max_iters (also overridden)
param_scheduler = [
    dict(type='CosineAnnealingLR', eta_min=1e-5, begin=0, by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=700)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=700, max_keep_ckpts=2,
        save_best='Sm', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='DunSegVisualizationHook'))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
