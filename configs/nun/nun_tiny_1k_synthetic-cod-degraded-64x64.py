# A tiny NUN that trains on the embedded SyntheticCOD data (no files needed)
# on a CPU, with the same encoder, image size, data, losses and schedule as
# configs/run/run_tiny_1k_synthetic-cod-degraded-64x64.py so that the two compare
# directly: ResNet-18 encoder at width 16, NUN at 32 channels with all its
# parts (4 SODUN stages with VSS mask proximals and the shared background
# U-net, DeRUN with N_k = (4, 3, 3, 2), selection, L_csc), 64 x 64 images.
#
# Training follows RUN-tiny-degraded's recipe
# (configs/run/run_tiny_1k_synthetic-cod-degraded-64x64.py, same _base_ data and
# schedule files):
# 1,000 iterations of batch 8, the first 350 on clean images, then half
# clean, half degraded (low light, haze, low resolution or their
# combination, at any level), so DeRUN has
# something to restore; the test set is the clean split and its four medium
# degradations, as for RUN-tiny.
#
# Loss: the paper's L_basic + 0.1 L_csc plus the three mask losses RUN-tiny
# trains with (the uncertainty-aware loss on the final mask, Dice on the edge
# maps, the structure loss on the initial mask), and the restoration term
# weighted 10. The NUN paper lists neither the extra mask losses nor a
# restoration weight; with its loss alone NUN-tiny's maps stay unconfident
# and it loses to RUN-tiny (nun-paperloss_tiny_1k_synthetic-cod-degraded-64x64.py, results in
# configs/nun/README.md), so the two tiny models share RUN's mask losses and
# differ only in the network.
#
# Degradation prior: a tiny DA-CLIP. Train it first (4 min) and pass its
# checkpoint, as `make demo` does:
#   python tools/train.py configs/daclip/daclip_tiny_6e_synthetic-degradation-64x64.py \
#       --work-dir work_dirs/daclip-tiny
#   python tools/train.py configs/nun/nun_tiny_1k_synthetic-cod-degraded-64x64.py --cfg-options \
#       model.prior.daclip_pretrained=$(ls work_dirs/daclip-tiny/best_*.pth)
# Without it the frozen DA-CLIP is random.
_base_ = [
    '../_base_/datasets/synthetic_cod_64x64.py',
    '../_base_/schedules/schedule_1k_adam_cosine.py'
]
tiny_clip = dict(
    embed_dim=64,
    vision_cfg=dict(
        image_size=64, layers=2, width=64, patch_size=8, head_width=32),
    text_cfg=dict(context_length=16, width=64, heads=2, layers=2))
model = dict(
    type='NUNSegmentor',
    data_preprocessor=dict(type='DunSegDataPreprocessor', in_channels=3),
    encoder=dict(type='ResNetEncoder', depth=18, base_channels=16,
                 pretrained=None),
    backbone=dict(
        type='NUN',
        channels=32,
        inner_iterations=(4, 3, 3, 2),
        # residual_gate: each DeRUN iteration may leave an image as it is
        # (a departure from the paper, dunseg/models/unfolding/derun.py);
        # without it the tiny DeRUN returned clean scenes at 22-24 dB
        inner_cfg=dict(type='DeRUN', prior_dim=64, operator_channels=8,
                       prox_channels=16, prox_blocks=1, cue_channels=8,
                       residual_gate=True),
        vss_cfg=dict(type='VSSBlock', d_state=16, expand=2.0, d_conv=3),
        num_vss_blocks=1,
        background_channels=8),
    prior=dict(
        type='DACLIPPrior', clip_model=tiny_clip, pretrained=None,
        daclip_pretrained=None, input_size=64, prompts=(), trainable=()),
    prior_schedule='stage1',
    selector=dict(type='LearnedQualitySelector'),
    mask_loss=dict(type='StructureLoss'),
    # the paper gives no weight; at 1 the mask losses drive DeRUN 2.5 times
    # harder than this term (gradient norms 0.70 against 0.28 on a training
    # batch) and it turns clean images into 20-21 dB copies of themselves
    restoration_loss=dict(type='MSELoss', loss_weight=10.0,
                          loss_name='loss_restoration'),
    consistency_loss=dict(type='CrossStageConsistencyLoss', loss_weight=0.1),
    # RUN-tiny's mask losses (run_tiny_1.4k_synthetic-cod-64x64.py): UAL on the final
    # mask, ramped in; edge Dice on stages 2-4 (RUN's stages 3, 2, 1); the
    # structure loss on the initial mask M_0
    uncertainty_loss=dict(type='UncertaintyAwareLoss', loss_weight=2.0,
                          ramp_iters=250),
    edge_loss=dict(type='DiceLoss', smooth=1.0, exponent=2.0),
    edge_loss_weights=(0, 1 / 8, 1 / 4, 1 / 2),
    prior_loss_weight=1 / 16,
    # 15 % faster training steps on a CPU (NUNSegmentor docstring)
    channels_last=True)

# RUN-tiny-degraded's data: half clean, half degraded, after 350 clean
# iterations
train_dataloader = dict(
    dataset=dict(
        degradation=dict(kind=('lowlight', 'haze', 'lowres', 'combined'),
                         level=('light', 'medium', 'heavy'),
                         clean_fraction=0.5)))
custom_hooks = [dict(type='CleanWarmupHook', clean_iters=350)]
# masks per test set beside the two training-free maps; restorations of the
# degraded sets against their clean images, and of the clean sets against
# themselves (a restorer should leave them as they are)
val_evaluator = [
    dict(type='CODMetric', baselines=('centre-gaussian', 'all-zero')),
    dict(type='RestorationMetric', missing_gt='skip')
]
test_evaluator = val_evaluator
# DDP: stage 1's edge branch has edge-loss weight 0 (and no edge loss at all
# in the paper-loss variant), so some parameters get no gradient
find_unused_parameters = True
randomness = dict(seed=0)
