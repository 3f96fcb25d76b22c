# CLIP adapter tuning of a random tiny CLIP on a CPU: Adam 3e-4 (the
# official 1e-5 is for adapters on a pretrained CLIP), cosine annealing to
# 1e-6 per iteration over 12 epochs; validation and checkpoints every 4
# epochs, best checkpoint by recognition accuracy. No visualization hook:
# the model classifies, it draws nothing.
_base_ = ['../default_runtime.py']
max_epochs = 12
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=3e-4, betas=(0.9, 0.999)))
param_scheduler = [
    # ends with the loop (no `end` / `T_max`), whatever max_epochs is
    dict(type='CosineAnnealingLR', eta_min=1e-6, begin=0, by_epoch=True,
         convert_to_iter_based=True)
]
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=4)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    _delete_=True,
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=100),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=True, interval=4, max_keep_ckpts=1,
        save_best='accuracy', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'))
log_processor = dict(by_epoch=True)
