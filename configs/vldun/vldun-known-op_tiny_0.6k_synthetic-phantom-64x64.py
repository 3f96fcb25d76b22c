# VL-DUN-tiny with the known k-space operator (the AMGDM flag
# ``physical_operator=True``; VL-DUN's text describes the learned operator,
# so this is a variant for ablations, not the paper's model): every gradient
# step is z = x − ρ·Aᴴ(Ax − y) with A = M ⊙ F, the slice's own undersampling
# mask, instead of the cross-attention / Bi-Mamba pair that estimates it from
# the CLIP dual prior. No CLIP prior is needed (the operator replaces it).
# Same data, schedule, evaluator and test split as VL-DUN-tiny; the samples
# carry their ``kspace_mask`` (configs/_base_/datasets/synthetic_phantom.py).
# 1,412,584 parameters, all trained: VL-DUN-tiny's 1,818,728 trained ones
# less its learned operators (the cross-attention estimating Φx and the
# Bi-Mamba Φᵀ of every stage, 406,144).
#   python tools/train.py configs/vldun/vldun-known-op_tiny_0.6k_synthetic-phantom-64x64.py
_base_ = ['./vldun_tiny_0.6k_synthetic-phantom-64x64.py']
model = dict(
    prior=None, backbone=dict(use_prior=False, physical_operator=True))
