# Restoration only (no Seg. Head) with the known k-space operator: step 1 of
# the sequential pipeline that the known-operator VL-DUN-tiny
# (vldun-known-op_tiny_0.6k_synthetic-phantom-64x64.py) is compared with, as
# vldun-wo-seghead_tiny_0.6k_synthetic-phantom-64x64.py is for VL-DUN-tiny. Same data,
# schedule, evaluator and test split; 1,393,892 parameters, all trained (the
# known-operator model less its 18,692-parameter Seg. Head).
#   python tools/train.py configs/vldun/vldun-known-op-wo-seghead_tiny_0.6k_synthetic-phantom-64x64.py
_base_ = ['./vldun_tiny_0.6k_synthetic-phantom-64x64.py']
# the known-operator model (vldun-known-op_tiny_0.6k_synthetic-phantom-64x64.py)
# without its Seg. Head
model = dict(
    prior=None, backbone=dict(use_prior=False, physical_operator=True),
    seg_head=None)
# without a Seg. Head there is no Dice to pick the best checkpoint by
default_hooks = dict(checkpoint=dict(save_best='PSNR', rule='greater'))
