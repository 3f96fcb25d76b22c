# The sequential pipeline for the known-operator VL-DUN-tiny with the
# segmentation-only U-Net (width 16) instead of the width-4 one: step 1's
# restorer (vldun-known-op-wo-seghead_tiny_0.6k_synthetic-phantom-64x64.py,
# frozen) and the U-Net trained on its restorations, as
# vldun-restore-then-segment-unet16_tiny_0.6k_synthetic-phantom-64x64.py is for
# VL-DUN-tiny. Trained parameters over both steps: 3,219,928 (restorer
# 1,393,892 + U-Net 1,826,036), 2.3 times the joint model's.
#   python tools/train.py configs/vldun/vldun-known-op-wo-seghead_tiny_0.6k_synthetic-phantom-64x64.py
#   python tools/train.py configs/vldun/vldun-known-op-restore-then-segment-unet16_tiny_0.6k_synthetic-phantom-64x64.py
_base_ = ['./vldun_tiny_0.6k_synthetic-phantom-64x64.py']
# as vldun-known-op-restore-then-segment_tiny_0.6k_synthetic-phantom-64x64.py,
# U-Net width 16
restorer_checkpoint = ('work_dirs/'
                       'vldun-known-op-wo-seghead_tiny_0.6k_synthetic-phantom-64x64/'
                       'iter_600.pth')
model = dict(
    _delete_=True,
    type='RestoreThenSegment',
    data_preprocessor=dict(type='DunSegDataPreprocessor', in_channels=1),
    # step 1's model: the known-operator VL-DUN-tiny without its Seg. Head
    restorer=dict(
        _base_.model, prior=None, seg_head=None,
        backbone=dict(_base_.model.backbone, use_prior=False,
                      physical_operator=True)),
    restorer_checkpoint=restorer_checkpoint,
    segmenter=dict(
        type='MedicalSegmentor',
        backbone=dict(
            type='mmseg.UNet', in_channels=1, base_channels=16, num_stages=5,
            upsample_cfg=dict(type='mmseg.InterpConv')),
        seg_head=dict(type='VLDUNSegHead', num_classes=4, channels=32),
        # VL-DUN-tiny's CE + Dice
        seg_losses=_base_.model.seg_losses))
