# VLU-Net's CLIP adapter tuning (CLIP_degradation_extractor.ipynb of the
# official VLU-Net code): Adam 1e-5, betas (0.9, 0.999), constant lr, 100
# epochs at batch 32; checkpoints every 10 epochs as the notebook saves
# them, validation as often, best checkpoint by recognition accuracy. No
# visualization hook: the model classifies, it draws nothing.
_base_ = ['../default_runtime.py']
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-5, betas=(0.9, 0.999), eps=1e-8))
param_scheduler = []  # constant lr
auto_scale_lr = dict(enable=False, base_batch_size=32)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100, val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    _delete_=True,
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=True, interval=10, max_keep_ckpts=3,
        save_best='accuracy', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'))
log_processor = dict(by_epoch=True)
