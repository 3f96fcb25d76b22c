# Embedded default: RPCANet+ (paper config, b = 4) on the procedural
# SyntheticSIRST data (128x128, no files needed). A short CPU schedule:
# Adam 1e-3 (10x the official rate, for the short run) with poly decay.
_base_ = [
    '../_base_/models/rpcanet_plus.py', '../_base_/datasets/synthetic_sirst.py',
    '../_base_/default_runtime.py'
]
max_iters = 1000
train_dataloader = dict(batch_size=8, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3, betas=(0.9, 0.999)))
param_scheduler = [
    dict(type='PolyLR', eta_min=0, power=0.9, begin=0, end=max_iters,
         by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=500)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=500,
                    max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='DunSegVisualizationHook'))
log_processor = dict(by_epoch=False)
