# Ablation "w/o FD" (VL-DUN Table 3) of vldun_tiny_0.6k_synthetic-phantom-64x64.py: the
# MDPMM blocks feed z itself to both branches (Bi-Mamba and a full-resolution
# GDFN) instead of the high and low frequency bands. Same parameters
# (5,207,019, of which 1,818,728 trained), data, schedule, evaluator and
# test split as VL-DUN-tiny; only the split is gone.
#   python tools/train.py configs/vldun/vldun-wo-fd_tiny_0.6k_synthetic-phantom-64x64.py
_base_ = ['./vldun_tiny_0.6k_synthetic-phantom-64x64.py']
model = dict(backbone=dict(frequency_decoupling=False))
