# Step 1 for the embedded default: tune the tiny CLIP dual prior on the
# phantoms (modality = PhantomCT / PhantomMRI by focal loss, degradation =
# radial / Cartesian k-space pattern by image-text CE); then
#   python tools/train.py configs/vldun/vldun-tiny_synthetic-phantom.py \
#       --cfg-options model.prior_checkpoint=work_dirs/vldun-tiny-prior_synthetic-phantom/iter_500.pth
_base_ = ['./vldun-tiny_synthetic-phantom.py']
model = dict(
    prior=dict(trainable=('visual', 'modality_classifier')),
    train_prior=True,
    prior_only=True,
    return_stages=False)
max_iters = 500
optim_wrapper = dict(optimizer=dict(lr=1e-4))
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop',
                 max_iters=max_iters)
param_scheduler = []
val_dataloader = None
val_evaluator = None
val_cfg = None
default_hooks = dict(
    checkpoint=dict(_delete_=True, type='CheckpointHook', by_epoch=False,
                    interval=max_iters, max_keep_ckpts=1))
