# NUN-R50 on clean COD: train on COD10K-train + CAMO-train (4,040 images),
# test on CHAMELEON / CAMO / COD10K / NC4K, 352x352.
#
#   python tools/train.py configs/nun/nun_r50_160e_cod10k-352x352.py
#
# Data: data/TrainDataset/{Imgs,GT,Edge} and data/TestDataset/<set>/{Imgs,GT}
# (docs/get_started.md). Without them the run stops and names the layout;
# configs/nun/nun_tiny_1k_synthetic-cod-degraded-64x64.py trains on embedded data instead.
#
# Recipe (paper Sec. 5.1): Adam (0.9, 0.999), lr 1e-4, x0.1 every 80 epochs,
# batch 36 in total (2 GPUs x 18 here; set auto_scale_lr for others). The
# epoch count is not published: 160 (two decays), our choice
# (schedules/schedule_160e_adam_step.py).
_base_ = [
    '../_base_/models/nun_r50.py', '../_base_/datasets/cod10k.py',
    '../_base_/schedules/schedule_160e_adam_step.py'
]
train_dataloader = dict(batch_size=18)
