# The sequential pipeline for the known-operator VL-DUN-tiny, sized like the
# joint model: step 1's restorer
# (vldun-known-op-wo-seghead_tiny_0.6k_synthetic-phantom-64x64.py, frozen) and
# the width-4 U-Net of vldun-restore-then-segment_tiny_0.6k_synthetic-phantom-64x64.py
# trained on its restorations. Trained parameters over both steps:
# 1,508,740 (restorer 1,393,892 + U-Net 114,848), 6.8 % above the joint
# model's 1,412,584.
#   python tools/train.py configs/vldun/vldun-known-op-wo-seghead_tiny_0.6k_synthetic-phantom-64x64.py
#   python tools/train.py configs/vldun/vldun-known-op-restore-then-segment_tiny_0.6k_synthetic-phantom-64x64.py
_base_ = ['./vldun_tiny_0.6k_synthetic-phantom-64x64.py']
# as vldun-restore-then-segment_tiny_0.6k_synthetic-phantom-64x64.py (U-Net width 4),
# with the known-operator restorer
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
            type='mmseg.UNet', in_channels=1, base_channels=4, num_stages=5,
            upsample_cfg=dict(type='mmseg.InterpConv')),
        seg_head=dict(type='VLDUNSegHead', num_classes=4, channels=8),
        # VL-DUN-tiny's CE + Dice
        seg_losses=_base_.model.seg_losses))
