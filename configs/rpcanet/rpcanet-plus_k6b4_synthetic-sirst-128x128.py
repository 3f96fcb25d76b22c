# Embedded default: RPCANet+ (paper config, b = 4) on the procedural
# SyntheticSIRST data (no files needed). A CPU schedule of a few minutes:
# 500 iterations of 8 random 64x64 frames (the model is fully convolutional;
# validation and test use the 128x128 test split), the official optimiser
# (Adam 1e-4, poly 0.9).
_base_ = [
    '../_base_/models/rpcanet_plus.py', '../_base_/datasets/synthetic_sirst.py',
    '../_base_/default_runtime.py'
]
# PyTorch's default conv init instead of the official Xavier-normal: with the
# latter the soft-IoU loss sits on its empty-prediction plateau (~0.85) for
# the whole short schedule (configs/rpcanet/README.md).
model = dict(
    backbone=dict(init_cfg=dict(type='PyTorchDefault', layer='Conv2d')))
max_iters = 500
train_dataloader = dict(
    batch_size=8, num_workers=1, dataset=dict(img_size=(64, 64)))
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.999)))
param_scheduler = [
    # ends with the loop (no `end`), whatever max_iters is
    dict(type='PolyLR', eta_min=0, power=0.9, begin=0, by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=250)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=25),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=250,
                    max_keep_ckpts=2, save_best='IoU', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='DunSegVisualizationHook'))
log_processor = dict(by_epoch=False)
