# A tiny NUN that trains on the embedded SyntheticCOD data (no files needed)
# on a CPU, with the same encoder, image size, data and schedule as
# configs/run/run-tiny_synthetic-cod.py so that the two compare directly:
# ResNet-18 encoder at width 16, NUN at 32 channels with all its parts
# (4 SODUN stages with VSS mask proximals and the shared background U-net,
# DeRUN with N_k = (4, 3, 3, 2), selection, L_csc), 64 x 64 images.
#
# Training follows RUN-tiny-degraded's recipe, which this config inherits:
# two epochs on clean images, then half clean, half degraded (low light,
# haze, low resolution or their combination, at any level), so DeRUN has
# something to restore; the test set is the clean split and its four medium
# degradations, as for RUN-tiny.
#
# Degradation prior: a tiny DA-CLIP. Train it first (10 min) and pass its
# checkpoint, as `make demo` does:
#   python tools/train.py configs/daclip/daclip-tiny_synthetic-degradation.py \
#       --work-dir work_dirs/daclip-tiny
#   python tools/train.py configs/nun/nun-tiny_synthetic-cod.py --cfg-options \
#       model.prior.daclip_pretrained=$(ls work_dirs/daclip-tiny/best_*.pth)
# Without it the frozen DA-CLIP is random.
_base_ = ['../run/run-tiny_synthetic-cod-degraded.py']
img_size = (64, 64)  # (H, W)
tiny_clip = dict(
    embed_dim=64,
    vision_cfg=dict(
        image_size=64, layers=2, width=64, patch_size=8, head_width=32),
    text_cfg=dict(context_length=16, width=64, heads=2, layers=2))
model = dict(
    _delete_=True,
    type='NUNSegmentor',
    data_preprocessor=dict(type='DunSegDataPreprocessor', in_channels=3),
    encoder=dict(type='ResNetEncoder', depth=18, base_channels=16,
                 pretrained=None),
    backbone=dict(
        type='NUN',
        channels=32,
        inner_iterations=(4, 3, 3, 2),
        inner_cfg=dict(type='DeRUN', prior_dim=64, operator_channels=8,
                       prox_channels=16, prox_blocks=1, cue_channels=8),
        vss_cfg=dict(type='VSSBlock', d_state=16, expand=2.0, d_conv=3),
        num_vss_blocks=1,
        background_channels=8),
    prior=dict(
        type='DACLIPPrior', clip_model=tiny_clip, pretrained=None,
        daclip_pretrained=None, input_size=64, prompts=(), trainable=()),
    prior_schedule='stage1',
    selector=dict(type='LearnedQualitySelector'),
    mask_loss=dict(type='StructureLoss'),
    restoration_loss=dict(type='MSELoss', loss_name='loss_restoration'),
    consistency_loss=dict(type='CrossStageConsistencyLoss', loss_weight=0.1),
    # 15 % faster training steps on a CPU (NUNSegmentor docstring)
    channels_last=True)

train_pipeline = [
    dict(type='CODRandomFlip', prob=0.5),
    dict(type='CODRandomCrop', border=5),
    dict(type='CODRandomRotate', prob=0.2, max_angle=15),
    dict(type='CODColorEnhance'),
    dict(type='ResizeCOD', scale=(img_size[1], img_size[0])),
    dict(type='PackCODInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
# masks per test set; restorations of the degraded sets against their clean
# images (the clean set has nothing to restore)
val_evaluator = [
    dict(type='CODMetric'),
    dict(type='RestorationMetric', missing_gt='skip')
]
test_evaluator = val_evaluator
# DDP: without an edge loss the edge branches of the reverse-attention units
# get no gradient
find_unused_parameters = True
