# The sequential pipeline for the known-operator VL-DUN-tiny, sized like the
# joint model: step 1's restorer
# (vldun-tiny_synthetic-phantom_known-operator_wo-seghead.py, frozen) and
# the width-4 U-Net of vldun-tiny_synthetic-phantom_restore-then-segment.py
# trained on its restorations. Trained parameters over both steps:
# 1,508,740 (restorer 1,393,892 + U-Net 114,848), 6.8 % above the joint
# model's 1,412,584.
#   python tools/train.py configs/vldun/vldun-tiny_synthetic-phantom_known-operator_wo-seghead.py
#   python tools/train.py configs/vldun/vldun-tiny_synthetic-phantom_known-operator_restore-then-segment.py
_base_ = ['./vldun-tiny_synthetic-phantom.py']
# as vldun-tiny_synthetic-phantom_restore-then-segment.py (U-Net width 4),
# with the known-operator restorer
restorer_checkpoint = ('work_dirs/'
                       'vldun-tiny_synthetic-phantom_known-operator_wo-seghead/'
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
