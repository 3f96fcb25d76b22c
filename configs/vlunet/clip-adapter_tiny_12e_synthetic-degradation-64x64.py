# Embedded default for the CLIP adapter tuning: a tiny CLIP (random init)
# learns to recognise the 7 degradation types (noise sigma 15/25/50, haze,
# rain, blur, low light) of the procedural SyntheticDegradationDataset on CPU
# in a few minutes. Same head, prompts and loss as the official recipe
# (clip-adapter_vit-b-32_100e_allinone-5task-128x128.py): image . text dot products of the adapted
# features, cross-entropy vs the degradation index.
#
# Departure from the official recipe: no pretrained CLIP weights exist
# offline, and adapters over the features of a frozen *random* vision tower
# reach only ~45 % here (measured, 7 classes, chance 14 %), so the vision
# tower trains too (trainable 'visual'); the text tower stays frozen (its
# random prompt features are fixed, distinct targets for the text adapter).
# Adam 3e-4 instead of 1e-5 for the randomly initialised tower.
_base_ = [
    '../_base_/datasets/synthetic_degradation.py',
    '../_base_/schedules/schedule_12e_adam_cosine.py'
]
degradation_classes = ('denoise_15', 'denoise_25', 'denoise_50', 'dehaze',
                       'derain', 'deblur', 'delowlight')
img_size = 64
# open_clip.CLIP config: ViT 64 wide, 2 blocks, 8x8 patches on 64x64 inputs
# (64 tokens), text transformer 64 wide, 2 blocks; vocab 49408 (tokenizer).
tiny_clip = dict(
    embed_dim=64,
    vision_cfg=dict(
        image_size=img_size, layers=2, width=64, patch_size=8,
        head_width=32),
    text_cfg=dict(context_length=16, width=64, heads=2, layers=2))
model = dict(
    type='CLIPAdapterClassifier',
    classes=degradation_classes,
    data_preprocessor=dict(type='DunSegDataPreprocessor', in_channels=3),
    prior=dict(
        type='CLIPDegradationPrior',
        clip_model=tiny_clip,
        pretrained=None,
        # crops already have the CLIP input size: no resampling, which
        # would change the noise statistics the classes differ by
        input_size=img_size,
        adapter_act='leaky_relu',  # as the official adapter-tuning notebook
        trainable=('image_adapter', 'text_adapter', 'visual')))

train_dataloader = dict(
    batch_size=32,
    num_workers=1,
    # 8,400 fixed samples, 12 epochs: more distinct crops generalise better
    # than 30 passes over 2,800 (which the tower memorises: 100 % train)
    dataset=dict(num_samples=8400, img_size=img_size))
val_dataloader = dict(
    batch_size=35,
    num_workers=1,
    dataset=dict(num_samples=700, img_size=img_size))  # 100 per class
test_dataloader = val_dataloader
val_evaluator = dict(type='DegradationRecognitionMetric')
test_evaluator = val_evaluator

randomness = dict(seed=0)
