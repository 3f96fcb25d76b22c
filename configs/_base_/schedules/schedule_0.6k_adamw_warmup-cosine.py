# Short CPU schedule of the tiny VL-DUN recipes: AdamW 1e-3 (wd 0.01), a
# 50-iteration linear warm-up then cosine annealing to 1e-6 over 600
# iterations; validation and checkpoints every 300, best checkpoint by Dice.
_base_ = ['../default_runtime.py']
max_iters = 600
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999),
                   weight_decay=0.01))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, begin=0, end=50,
         by_epoch=False),
    dict(type='CosineAnnealingLR', eta_min=1e-6, begin=50, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=300)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=300, max_keep_ckpts=2,
                    save_best='Dice', rule='greater'))
log_processor = dict(by_epoch=False)
