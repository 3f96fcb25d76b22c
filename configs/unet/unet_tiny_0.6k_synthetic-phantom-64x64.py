# VL-DUN's segmentation-only comparison: a plain U-Net trained on the
# degraded (zero-filled, k-space undersampled) phantom slices alone, with
# the same data, Dice + CE losses, optimiser, 600-iteration schedule,
# MedicalSegMetric and test split as
# configs/vldun/vldun_tiny_0.6k_synthetic-phantom-64x64.py (the same _base_ data and
# schedule files; only the model differs).
# Model: mmseg's U-Net (Ronneberger et al., MICCAI 2015; mmseg's defaults: 5
# stages of two 3x3 Conv-BN-ReLU, bilinear up-convolutions) at width 16, and
# VL-DUN-tiny's Seg. Head (two Conv-BN-ReLU 32 wide + 1x1) on its
# full-resolution output: 1,826,036 parameters (1,811,952 + 14,084), all
# trained, against VL-DUN-tiny's 1,818,728 trained parameters. VL-DUN-tiny
# has 5,207,019 in all; the other 3,388,291 are its CLIP dual prior, frozen
# in that config, 3,162,112 of them CLIP's token-embedding table, of which
# only the few prompt tokens are ever read.
#   python tools/train.py configs/unet/unet_tiny_0.6k_synthetic-phantom-64x64.py
_base_ = [
    '../_base_/datasets/synthetic_phantom_64x64.py',
    '../_base_/schedules/schedule_0.6k_adamw_warmup-cosine.py'
]
model = dict(
    type='MedicalSegmentor',
    data_preprocessor=dict(type='DunSegDataPreprocessor', in_channels=1),
    backbone=dict(
        type='mmseg.UNet', in_channels=1, base_channels=16, num_stages=5,
        # the scoped name: mmcv looks the layer up in the current (dunseg)
        # registry, which does not hold mmseg's InterpConv
        upsample_cfg=dict(type='mmseg.InterpConv')),
    seg_head=dict(type='VLDUNSegHead', num_classes=4, channels=32),
    # VL-DUN's L = CE + Dice (configs/_base_/models/vldun.py)
    seg_losses=[
        dict(type='CrossEntropyLoss', loss_weight=1.0,
             loss_name='loss_seg_ce'),
        dict(type='MultiClassDiceLoss', loss_weight=1.0,
             loss_name='loss_seg_dice'),
    ])
