# Ablation "w/o Rec Head" (VL-DUN Table 3) of vldun_tiny_0.6k_synthetic-phantom-64x64.py:
# the same network trained by the segmentation loss alone, so nothing asks
# its unfolding stages for a clean image. The paper's test of "segmentation
# benefits from restoration" (Table 3: Dice 0.6198 without against 0.6597
# with). Same data, schedule, evaluator and test split as VL-DUN-tiny, and
# the same 5,207,019 parameters: the restoration loss is weighted 0, so the
# Rec. Head stays at its zero init (restored = the zero-filled input, whose
# PSNR / SSIM the evaluator then reports) and gets zero gradients, which
# keeps DDP free of unused parameters.
#   python tools/train.py configs/vldun/vldun-wo-rechead_tiny_0.6k_synthetic-phantom-64x64.py \
#       --cfg-options model.prior_checkpoint=work_dirs/vldun-tiny-prior/iter_500.pth
_base_ = ['./vldun_tiny_0.6k_synthetic-phantom-64x64.py']
model = dict(rec_loss=dict(loss_weight=0.0))
