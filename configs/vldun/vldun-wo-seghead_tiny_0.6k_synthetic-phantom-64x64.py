# Ablation "w/o Seg Head" (VL-DUN Table 3) of vldun_tiny_0.6k_synthetic-phantom-64x64.py:
# restoration only (L1 loss), scored by PSNR / SSIM. Same data, schedule,
# evaluator and test split as VL-DUN-tiny; 5,188,327 parameters (1,800,036
# trained; VL-DUN-tiny less its 18,692-parameter Seg. Head).
# It is also step 1 of the sequential restore-then-segment pipeline
# (vldun-restore-then-segment_tiny_0.6k_synthetic-phantom-64x64.py loads its final
# checkpoint, work_dirs/vldun-wo-seghead_tiny_0.6k_synthetic-phantom-64x64/iter_600.pth).
#   python tools/train.py configs/vldun/vldun-wo-seghead_tiny_0.6k_synthetic-phantom-64x64.py
_base_ = ['./vldun_tiny_0.6k_synthetic-phantom-64x64.py']
model = dict(seg_head=None)
# without a Seg. Head there is no Dice to pick the best checkpoint by (the
# checkpoint hook would stop the run at the first validation)
default_hooks = dict(checkpoint=dict(save_best='PSNR', rule='greater'))
