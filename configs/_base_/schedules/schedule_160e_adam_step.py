# NUN's recipe (paper Sec. 5.1): Adam (0.9, 0.999), lr 1e-4, x0.1 every 80
# epochs, batch 36 in total (set auto_scale_lr for others). The epoch count
# is not published: 160 (two decays), our choice. Validation and
# checkpoints every 5 epochs, best checkpoint by S-measure.
_base_ = ['../default_runtime.py']
max_epochs = 160
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.999)))
auto_scale_lr = dict(enable=False, base_batch_size=36)
param_scheduler = [
    # the last phase has no `end`: it follows train_cfg.max_epochs
    dict(type='MultiStepLR', milestones=[80], gamma=0.1, by_epoch=True,
         begin=0)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(log_metric_by_epoch=True),
    checkpoint=dict(by_epoch=True, interval=5, max_keep_ckpts=3,
                    save_best='Sm', rule='greater'))
log_processor = dict(by_epoch=True)
