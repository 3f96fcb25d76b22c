# A constant-lr tuning step of 500 iterations: AdamW 1e-4 (wd 0.01), no
# validation, one checkpoint at the end (the tiny CLIP dual prior of
# VL-DUN-tiny, step 1).
_base_ = ['../default_runtime.py']
max_iters = 500
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999),
                   weight_decay=0.01))
param_scheduler = []
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
val_cfg = None
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
