# DA-CLIP controller tuning on a CPU: AdamW 3e-4 (betas 0.9 / 0.98, wd 0.05
# as DA-CLIP; a larger lr for a random tiny controller), cosine annealing to
# 1e-6 per iteration over 6 epochs; validation and checkpoints every 3
# epochs, best checkpoint by recognition accuracy. No visualization hook:
# the model classifies, it draws nothing.
_base_ = ['../default_runtime.py']
max_epochs = 6
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=3e-4, betas=(0.9, 0.98),
                   weight_decay=0.05))
param_scheduler = [
    # no T_max / end: the cosine follows train_cfg.max_epochs
    dict(type='CosineAnnealingLR', eta_min=1e-6, begin=0, by_epoch=True,
         convert_to_iter_based=True)
]
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=3)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    _delete_=True,
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=True, interval=3, max_keep_ckpts=1,
        save_best='accuracy', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'))
log_processor = dict(by_epoch=True)
