# NUN-R50 on clean COD: train on COD10K-train + CAMO-train (4,040 images),
# test on CHAMELEON / CAMO / COD10K / NC4K, 352x352.
#
#   python tools/train.py configs/nun/nun_r50_cod10k.py
#
# Data: data/TrainDataset/{Imgs,GT,Edge} and data/TestDataset/<set>/{Imgs,GT}
# (docs/get_started.md). Without them the run stops and names the layout;
# configs/nun/nun-tiny_synthetic-cod.py trains on embedded data instead.
#
# Recipe (paper Sec. 5.1): Adam (0.9, 0.999), lr 1e-4, x0.1 every 80 epochs,
# batch 36 in total (2 GPUs x 18 here; set auto_scale_lr for others). The
# epoch count is not published: 160 (two decays), our choice.
_base_ = [
    '../_base_/models/nun_r50.py', '../_base_/datasets/cod10k.py',
    '../_base_/default_runtime.py'
]
train_dataloader = dict(batch_size=18)
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
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=True),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=True, interval=5, max_keep_ckpts=3,
        save_best='Sm', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='DunSegVisualizationHook'))
log_processor = dict(by_epoch=True)
