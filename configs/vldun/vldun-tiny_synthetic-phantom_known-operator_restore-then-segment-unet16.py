# The sequential pipeline for the known-operator VL-DUN-tiny with the
# segmentation-only U-Net (width 16) instead of the width-4 one: step 1's
# restorer (vldun-tiny_synthetic-phantom_known-operator_wo-seghead.py,
# frozen) and the U-Net trained on its restorations, as
# vldun-tiny_synthetic-phantom_restore-then-segment-unet16.py is for
# VL-DUN-tiny. Trained parameters over both steps: 3,219,928 (restorer
# 1,393,892 + U-Net 1,826,036), 2.3 times the joint model's.
#   python tools/train.py configs/vldun/vldun-tiny_synthetic-phantom_known-operator_wo-seghead.py
#   python tools/train.py configs/vldun/vldun-tiny_synthetic-phantom_known-operator_restore-then-segment-unet16.py
_base_ = [
    './vldun-tiny_synthetic-phantom_known-operator_restore-then-segment.py'
]
model = dict(
    segmenter=dict(
        backbone=dict(base_channels=16),
        seg_head=dict(channels=32)))
