# The sequential pipeline for the known-operator VL-DUN-tiny, sized like the
# joint model: step 1's restorer
# (vldun-tiny_synthetic-phantom_known-operator_wo-seghead.py, frozen) and
# the width-4 U-Net of vldun-tiny_synthetic-phantom_restore-then-segment.py
# trained on its restorations. Trained parameters over both steps:
# 1,508,740 (restorer 1,393,892 + U-Net 114,848), 6.8 % above the joint
# model's 1,412,584.
#   python tools/train.py configs/vldun/vldun-tiny_synthetic-phantom_known-operator_wo-seghead.py
#   python tools/train.py configs/vldun/vldun-tiny_synthetic-phantom_known-operator_restore-then-segment.py
_base_ = ['./vldun-tiny_synthetic-phantom_restore-then-segment.py']
model = dict(
    restorer=dict(
        prior=None, backbone=dict(use_prior=False, physical_operator=True)),
    restorer_checkpoint='work_dirs/'
    'vldun-tiny_synthetic-phantom_known-operator_wo-seghead/iter_600.pth')
