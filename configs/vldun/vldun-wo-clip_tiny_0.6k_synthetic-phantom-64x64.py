# Ablation "w/o CLIP" (VL-DUN Table 3) of vldun_tiny_0.6k_synthetic-phantom-64x64.py: no
# CLIP dual prior; the AMGDM cross-attention reads learned prompts instead (a
# bank of 8 vectors weighted per image, PromptIR-style; vldun.py).
# Same data, schedule, evaluator and test split as VL-DUN-tiny.
# 1,819,512 parameters, all trained: VL-DUN-tiny's 1,818,728 trained ones
# + 784 for the prompts, without its frozen 3,388,291-parameter CLIP.
# No recognised modality / degradation in the predictions.
#   python tools/train.py configs/vldun/vldun-wo-clip_tiny_0.6k_synthetic-phantom-64x64.py
_base_ = ['./vldun_tiny_0.6k_synthetic-phantom-64x64.py']
model = dict(prior=None, backbone=dict(use_prior=False))
