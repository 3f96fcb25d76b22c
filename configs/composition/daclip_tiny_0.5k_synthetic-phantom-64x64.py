# A tiny DA-CLIP tuned on the embedded CT / MRI phantoms, the degradation
# prior of vldun-daclip_tiny_0.6k_synthetic-phantom-64x64.py. DA-CLIP's
# recipe (configs/daclip): a frozen random tiny CLIP, only the image
# controller and the logit scale train, with DA-CLIP's loss. The
# degradation words are the phantoms' k-space patterns (metainfo
# kspace_pattern: radial for sparse-view CT, Cartesian for accelerated MRI);
# the slices have no captions, so every caption is the same sentence and
# the content term does not move (only the degradation term teaches).
# Grey slices reach CLIP as R = G = B.
#   python tools/train.py configs/composition/daclip_tiny_0.5k_synthetic-phantom-64x64.py \
#       --work-dir work_dirs/daclip-phantom-tiny
_base_ = [
    '../_base_/datasets/synthetic_phantom_64x64.py',
    '../_base_/schedules/schedule_0.5k_adamw_constant.py'
]
img_size = 64
# the tiny CLIP of configs/vldun/vldun_tiny_0.6k_synthetic-phantom-64x64.py
tiny_clip = dict(
    embed_dim=64,
    vision_cfg=dict(image_size=img_size, layers=2, width=64, patch_size=8,
                    head_width=32),
    text_cfg=dict(context_length=16, width=64, heads=2, layers=2))
model = dict(
    type='DACLIPTuner',
    classes=('radial', 'cartesian'),
    words=('radial-streaked', 'aliased'),
    label_key='kspace_pattern',
    default_caption='a medical slice',
    data_preprocessor=dict(type='DunSegDataPreprocessor', in_channels=1),
    prior=dict(
        type='DACLIPPrior', clip_model=tiny_clip, pretrained=None,
        input_size=img_size, trainable=('controller', 'logit_scale')),
    loss=dict(type='DACLIPLoss'))
# the training log shows the recognition accuracy; the phantoms carry no
# degradation_label for DegradationRecognitionMetric, so no val / test loop
val_dataloader = None
val_evaluator = None
test_dataloader = None
test_evaluator = None
test_cfg = None
randomness = dict(seed=0)
