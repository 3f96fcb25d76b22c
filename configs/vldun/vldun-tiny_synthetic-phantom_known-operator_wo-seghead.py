# Restoration only (no Seg. Head) with the known k-space operator: step 1 of
# the sequential pipeline that the known-operator VL-DUN-tiny
# (vldun-tiny_synthetic-phantom_known-operator.py) is compared with, as
# vldun-tiny_synthetic-phantom_wo-seghead.py is for VL-DUN-tiny. Same data,
# schedule, evaluator and test split; 1,393,892 parameters, all trained (the
# known-operator model less its 18,692-parameter Seg. Head).
#   python tools/train.py configs/vldun/vldun-tiny_synthetic-phantom_known-operator_wo-seghead.py
_base_ = ['./vldun-tiny_synthetic-phantom.py']
# the known-operator model (vldun-tiny_synthetic-phantom_known-operator.py)
# without its Seg. Head
model = dict(
    prior=None, backbone=dict(use_prior=False, physical_operator=True),
    seg_head=None)
# without a Seg. Head there is no Dice to pick the best checkpoint by
default_hooks = dict(checkpoint=dict(save_best='PSNR', rule='greater'))
