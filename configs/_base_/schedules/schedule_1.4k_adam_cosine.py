# CPU schedule of the tiny COD models (RUN-tiny, the FPN baseline): Adam
# 1e-3, cosine annealing to 1e-5 over 1,400 iterations; validation and
# checkpoints every 700, best checkpoint by S-measure.
_base_ = ['../default_runtime.py']
max_iters = 1400
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-3, betas=(0.9, 0.999)))
# no end / T_max: the cosine follows train_cfg.max_iters (also overridden)
param_scheduler = [
    dict(type='CosineAnnealingLR', eta_min=1e-5, begin=0, by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=700)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(log_metric_by_epoch=False),
    checkpoint=dict(by_epoch=False, interval=700, max_keep_ckpts=2,
                    save_best='Sm', rule='greater'))
log_processor = dict(by_epoch=False)
