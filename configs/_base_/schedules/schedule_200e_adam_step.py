# RUN's optimiser (ChunmingHe/RUN, Train.py): Adam, lr 1e-4, no weight
# decay. The official schedule multiplies the lr by 0.1 every 80 epochs
# (adjust_lr) while a CosineAnnealingLR(T_max=20, eta_min=1e-5) also
# rescales it every epoch (the two conflict), and --epoch defaults to 3000
# (train until stopped). Ours: the step decay alone, 200 epochs (decays at
# 80 and 160). Validation and checkpoints every 5 epochs, best checkpoint by
# MAE (lower is better), as the official code selects by MAE.
_base_ = ['../default_runtime.py']
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.999)))
param_scheduler = [
    dict(type='StepLR', step_size=80, gamma=0.1, by_epoch=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=200, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(log_metric_by_epoch=True),
    checkpoint=dict(by_epoch=True, interval=5, max_keep_ckpts=3,
                    save_best='MAE', rule='less'))
log_processor = dict(by_epoch=True)
