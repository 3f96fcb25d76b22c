# Embedded DA-CLIP: a tiny CLIP plus DA-CLIP's image controller trained with
# DA-CLIP's loss (content contrastive on captions + degradation contrastive
# on degradation words, one logit scale) on the procedural
# SyntheticDegradationDataset, on CPU in minutes.
#
# Departures from the official recipe (daclip-uir, daclip_ViT-B-32 from
# laion2b_s34b_b79k, BLIP captions, 10 degradation types, bs 784):
# - no pretrained CLIP offline: the frozen CLIP is a *random* tiny CLIP; its
#   frozen text tower turns captions and words into fixed, distinct random
#   targets, and only the controller (+ logit scale) trains, as in DA-CLIP;
# - captions: the embedded data has none; each caption is built from the
#   crop's source image name ('a photo of astronaut', 'a texture of
#   stripes', DACLIPTuner.caption_template);
# - six of DA-CLIP's words that the embedded synthesizers produce: noisy
#   (sigma 25), hazy, rainy, motion-blurry (70 % camera shake, 30 % defocus),
#   low-light, jpeg-compressed. One noise level, since zero-shot
#   recognition needs one distinct word per class.
_base_ = [
    '../_base_/datasets/synthetic_degradation.py',
    '../_base_/schedules/schedule_6e_adamw_cosine.py'
]
degradation_classes = ('denoise_25', 'dehaze', 'derain', 'deblur',
                       'delowlight', 'jpeg')
img_size = 64
tiny_clip = dict(
    embed_dim=64,
    vision_cfg=dict(
        image_size=img_size, layers=2, width=64, patch_size=8,
        head_width=32),
    text_cfg=dict(context_length=16, width=64, heads=2, layers=2))
model = dict(
    type='DACLIPTuner',
    classes=degradation_classes,
    data_preprocessor=dict(type='DunSegDataPreprocessor', in_channels=3),
    prior=dict(
        type='DACLIPPrior',
        clip_model=tiny_clip,
        pretrained=None,
        # crops have the CLIP input size already: no resampling (it would
        # change the noise statistics)
        input_size=img_size,
        trainable=('controller', 'logit_scale')),
    loss=dict(type='DACLIPLoss'))

# the caption needs the crop's source name in the data sample
meta_keys = ('img_path', 'gt_path', 'ori_shape', 'img_shape', 'degradation',
             'degradation_label', 'flip', 'flip_direction', 'rotation',
             'seed', 'dataset_name', 'sample_idx', 'source')
train_dataloader = dict(
    batch_size=32,
    num_workers=1,
    dataset=dict(
        num_samples=7200,
        img_size=img_size,
        degradations=degradation_classes,
        pipeline=[
            dict(type='PairedRandomFlipRot'),
            dict(type='PackRestorationInputs', meta_keys=meta_keys)
        ]))
val_dataloader = dict(
    batch_size=30,
    num_workers=1,
    dataset=dict(
        num_samples=600,  # 100 per class, held-out test split
        img_size=img_size,
        degradations=degradation_classes,
        pipeline=[dict(type='PackRestorationInputs', meta_keys=meta_keys)]))
test_dataloader = val_dataloader
val_evaluator = dict(type='DegradationRecognitionMetric')
test_evaluator = val_evaluator

randomness = dict(seed=0)
