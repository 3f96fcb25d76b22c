# The sequential restore-then-segment pipeline with the segmentation-only
# U-Net of configs/unet/unet_tiny_0.6k_synthetic-phantom-64x64.py (width 16, Seg. Head
# 32 wide) instead of the width-4 one: step 1's restorer frozen, the U-Net
# trained on its restorations. Trained parameters over both steps: 3,626,072
# (restorer 1,800,036 + U-Net 1,826,036), twice VL-DUN-tiny's 1,818,728,
# so it is the stronger baseline: the width-4 U-Net of
# vldun-restore-then-segment_tiny_0.6k_synthetic-phantom-64x64.py, sized to match the
# joint model's trained parameters, learns only the wall class in 600
# iterations (results in configs/vldun/README.md).
#   python tools/train.py configs/vldun/vldun-wo-seghead_tiny_0.6k_synthetic-phantom-64x64.py
#   python tools/train.py configs/vldun/vldun-restore-then-segment-unet16_tiny_0.6k_synthetic-phantom-64x64.py
_base_ = ['./vldun_tiny_0.6k_synthetic-phantom-64x64.py']
# as vldun-restore-then-segment_tiny_0.6k_synthetic-phantom-64x64.py, U-Net width 16
restorer_checkpoint = \
    'work_dirs/vldun-wo-seghead_tiny_0.6k_synthetic-phantom-64x64/iter_600.pth'
model = dict(
    _delete_=True,
    type='RestoreThenSegment',
    data_preprocessor=dict(type='DunSegDataPreprocessor', in_channels=1),
    restorer=dict(_base_.model, seg_head=None),
    restorer_checkpoint=restorer_checkpoint,
    segmenter=dict(
        type='MedicalSegmentor',
        backbone=dict(
            type='mmseg.UNet', in_channels=1, base_channels=16, num_stages=5,
            upsample_cfg=dict(type='mmseg.InterpConv')),
        seg_head=dict(type='VLDUNSegHead', num_classes=4, channels=32),
        # VL-DUN-tiny's CE + Dice
        seg_losses=_base_.model.seg_losses))
