# Official RPCANet / RPCANet+ recipe: Adam 1e-4, no weight decay, poly(0.9)
# decay per iteration without warm-up, 400 epochs; validation (on the test
# split, as in the official code) every 10 epochs, best checkpoint by IoU.
_base_ = ['../default_runtime.py']
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.999)))
param_scheduler = [
    # no `end`: the decay follows train_cfg.max_epochs, also when it is
    # overridden (e.g. --cfg-options train_cfg.max_epochs=100)
    dict(type='PolyLR', eta_min=0, power=0.9, begin=0, by_epoch=True,
         convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=400, val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(log_metric_by_epoch=True),
    checkpoint=dict(by_epoch=True, interval=10, max_keep_ckpts=3,
                    save_best='IoU', rule='greater'))
log_processor = dict(by_epoch=True)
