# Fine-tuning a CLIP dual prior (VL-DUN step 1): AdamW 1e-5 (wd 0.01),
# constant lr, 10 epochs, no validation, a checkpoint every epoch (the last
# two kept). Total batch 32 for auto_scale_lr.
_base_ = ['../default_runtime.py']
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-5, weight_decay=0.01))
param_scheduler = []
auto_scale_lr = dict(enable=False, base_batch_size=32)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=10)
val_cfg = None
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(log_metric_by_epoch=True),
    checkpoint=dict(by_epoch=True, interval=1, max_keep_ckpts=2))
log_processor = dict(by_epoch=True)
