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
# Model and data of vldun_dim48_200e_medical4-256x256.py; 10 epochs of AdamW 1e-5 (as
# VLU-Net's adapter tuning, Adam 1e-5) at a constant lr, no validation.
_base_ = [
    '../_base_/models/vldun.py',
    '../_base_/datasets/vldun_medical4.py',
    '../_base_/schedules/schedule_10e_adamw_constant.py'
]
model = dict(
    # the joint model of vldun_dim48_200e_medical4-256x256.py, so that the checkpoint
    # loads there
    seg_head=dict(num_classes=7),
    label_spaces=dict(
        ACDC=[0, 1, 2, 3],       # background, RV, myocardium, LV
        BraTS2021=[0, 4],        # tumour
        COVID19CT=[0, 5],        # infection
        HCCTACESeg=[0, 6]),      # liver tumour
    prior=dict(trainable=('visual', 'modality_classifier')),
    train_prior=True,
    prior_only=True)
val_dataloader = None
val_evaluator = None
