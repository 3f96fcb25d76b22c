# RPCANet's optimiser (Adam 1e-4, poly 0.9, no warm-up) over a short CPU
# schedule: 500 iterations, validation and checkpoints every 250, best
# checkpoint by IoU.
_base_ = ['../default_runtime.py']
max_iters = 500
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
    logger=dict(interval=25),
    checkpoint=dict(by_epoch=False, interval=250, max_keep_ckpts=2,
                    save_best='IoU', rule='greater'))
log_processor = dict(by_epoch=False)
