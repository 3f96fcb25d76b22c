# Official VLU-Net recipe (train.py defaults; its CLI flags are ignored, so
# these defaults are what trained the released models): AdamW lr 2e-4 with
# torch's default weight decay 0.01, a 15-epoch linear warm-up then cosine
# annealing to 0 at epoch 200, stepped per epoch; validation and checkpoints
# every 5 epochs. Total batch 32 (4 per GPU x 8 GPUs): set
# `auto_scale_lr.enable=True` to rescale lr for another total batch size.
_base_ = ['../default_runtime.py']
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, betas=(0.9, 0.999),
                   weight_decay=0.01))
param_scheduler = [
    # The official warm-up starts from lr 0 (pl_bolts warmup_start_lr=0);
    # MMEngine's LinearLR needs a positive start factor.
    dict(type='LinearLR', start_factor=1e-3, begin=0, end=15, by_epoch=True),
    # no `end` / `T_max`: the cosine ends with train_cfg.max_epochs (200),
    # also when it is overridden
    dict(type='CosineAnnealingLR', eta_min=0, begin=15, by_epoch=True),
]
auto_scale_lr = dict(enable=False, base_batch_size=32)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=200, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(log_metric_by_epoch=True),
    checkpoint=dict(by_epoch=True, interval=5, max_keep_ckpts=3,
                    save_best='PSNR', rule='greater'))
log_processor = dict(by_epoch=True)
