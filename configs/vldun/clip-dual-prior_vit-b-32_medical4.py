# Step 1 of VL-DUN (Sec. 3.3): fine-tune the CLIP dual prior on the medical
# data. The image tower and the modality classifier train (focal loss over
# the datasets, Eq. 3, plus the image-text CE over the degradation prompts);
# the text tower stays frozen. prior_only: the unfolding network is built
# (so the checkpoint's prior.* keys load into step 2 through
# model.prior_checkpoint) but not run. The log shows modality_accuracy and
# degradation_accuracy on the training batches.
# The paper tunes on 8 datasets and 4 degradation primitives (noise, blur,
# motion, low resolution); the data here are the four joint-setting
# datasets, labelled by dataset and by k-space pattern.
_base_ = ['./vldun_medical4-256x256.py']
model = dict(
    prior=dict(trainable=('visual', 'modality_classifier')),
    train_prior=True,
    prior_only=True)
# CLIP fine-tuning (VLU-Net's adapter tuning used Adam 1e-5)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-5, weight_decay=0.01))
param_scheduler = []
train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=10)
val_dataloader = None
val_evaluator = None
val_cfg = None
default_hooks = dict(
    checkpoint=dict(_delete_=True, type='CheckpointHook', by_epoch=True,
                    interval=1, max_keep_ckpts=2))
