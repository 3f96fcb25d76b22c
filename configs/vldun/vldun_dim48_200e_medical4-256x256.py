# VL-DUN on the paper's joint setting (Sec. 4.1, Table 1): ACDC, BraTS2021,
# COVID-19-CT and HCC-TACE-Seg trained together at 256x256, CT radial and
# MRI Cartesian k-space undersampling (4x), scored per dataset (Dice, IoU,
# PSNR, SSIM; "Average" = mean over the four).
#
# The four label sets differ (ACDC 1 RV, 2 myocardium, 3 LV; the others
# 1 = lesion), so one Seg. Head predicts their union and each dataset keeps
# its own labels (model.label_spaces).
#
# Recipe where the paper is silent: VLU-Net's (AdamW 2e-4, 15-epoch warm-up
# + cosine, 200 epochs), batch 8.
#   1. python tools/train.py configs/vldun/clip-dual-prior_vit-b-32_10e_medical4-256x256.py
#   2. python tools/train.py configs/vldun/vldun_dim48_200e_medical4-256x256.py \
#          --cfg-options model.prior_checkpoint=work_dirs/clip-dual-prior_vit-b-32_10e_medical4-256x256/best_accuracy_*.pth
_base_ = [
    '../_base_/models/vldun.py',
    '../_base_/datasets/vldun_medical4.py',
    '../_base_/schedules/schedule_200e_adamw_warmup-cosine.py'
]
model = dict(
    seg_head=dict(num_classes=7),
    label_spaces=dict(
        ACDC=[0, 1, 2, 3],       # background, RV, myocardium, LV
        BraTS2021=[0, 4],        # tumour
        COVID19CT=[0, 5],        # infection
        HCCTACESeg=[0, 6]))      # liver tumour
default_hooks = dict(
    checkpoint=dict(save_best='Dice', rule='greater'))
