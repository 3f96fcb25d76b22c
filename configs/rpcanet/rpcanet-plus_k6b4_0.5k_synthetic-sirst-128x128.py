# Embedded default: RPCANet+ (paper config, b = 4) on the procedural
# SyntheticSIRST data (no files needed). A CPU schedule of a few minutes:
# 500 iterations of 8 random 64x64 frames (the model is fully convolutional;
# validation and test use the 128x128 test split), the official optimiser
# (Adam 1e-4, poly 0.9).
_base_ = [
    '../_base_/models/rpcanet_plus.py', '../_base_/datasets/synthetic_sirst.py',
    '../_base_/schedules/schedule_0.5k_adam_poly.py'
]
# PyTorch's default conv init instead of the official Xavier-normal: with the
# latter the soft-IoU loss sits on its empty-prediction plateau (~0.85) for
# the whole short schedule (configs/rpcanet/README.md).
model = dict(
    backbone=dict(init_cfg=dict(type='PyTorchDefault', layer='Conv2d')))
train_dataloader = dict(
    batch_size=8, num_workers=1, dataset=dict(img_size=(64, 64)))
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
