# Step 1 for the embedded default: tune the tiny CLIP dual prior on the
# phantoms (modality = PhantomCT / PhantomMRI by focal loss, degradation =
# radial / Cartesian k-space pattern by image-text CE); then
#   python tools/train.py configs/vldun/vldun_tiny_0.6k_synthetic-phantom-64x64.py \
#       --cfg-options model.prior_checkpoint=work_dirs/clip-dual-prior_tiny_0.5k_synthetic-phantom-64x64/iter_500.pth
# Model and data of vldun_tiny_0.6k_synthetic-phantom-64x64.py; 500 iterations of AdamW
# 1e-4 at a constant lr, no validation.
_base_ = [
    '../_base_/models/vldun_tiny.py',
    '../_base_/datasets/synthetic_phantom_64x64.py',
    '../_base_/schedules/schedule_0.5k_adamw_constant.py'
]
model = dict(
    prior=dict(trainable=('visual', 'modality_classifier')),
    train_prior=True,
    prior_only=True,
    return_stages=False)
val_dataloader = None
val_evaluator = None
