# VLU-Net step 1: fine-tune the CLIP degradation adapters (5-task setting,
# 7 classes), official recipe of CLIP_degradation_extractor.ipynb: frozen
# open_clip ViT-B-32 (laion2b_s34b_b79k), trainable image and text 3-layer
# MLP adapters with LeakyReLU, logits = image feature . text feature (no
# normalisation, no temperature), cross-entropy vs the degradation index;
# Adam lr 1e-5, betas (0.9, 0.999), 100 epochs, batch 32, random 128x128
# crops without flip/rot augmentation, the 5-task training sets (Rain100L
# x120). The notebook has no validation; here the 5-task test sets are used
# to report recognition accuracy every 10 epochs.
#
# The trained head (keys prior.*) plugs into VLU-Net's Restorer as
# `model.prior` (its keys are prior.* too); or convert the released
# clip_tuned.pth with tools/model_converters/vlunet_clip2dunseg.py.
_base_ = [
    '../_base_/datasets/allinone_5task.py',
    '../_base_/schedules/schedule_100e_adam_constant.py'
]
degradation_classes = ('denoise_15', 'denoise_25', 'denoise_50', 'dehaze',
                       'derain', 'deblur', 'delowlight')
model = dict(
    type='CLIPAdapterClassifier',
    classes=degradation_classes,
    data_preprocessor=dict(type='DunSegDataPreprocessor', in_channels=3),
    prior=dict(
        type='CLIPDegradationPrior',
        clip_model='ViT-B-32',
        # No download ever: set a LOCAL open_clip ViT-B-32 weight file, e.g.
        # .../CLIP-ViT-B-32-laion2B-s34B-b79K/open_clip_pytorch_model.bin.
        # None = random init (only useful for smoke tests).
        pretrained=None,
        # LeakyReLU as in the notebook that trained clip_tuned.pth (VLU-Net's
        # net/clip.py then runs the adapters with GELU; see
        # configs/vlunet/README.md)
        adapter_act='leaky_relu',
        # prompts: DEGRADATION_PROMPTS of `classes` (filled by the classifier)
        trainable=('image_adapter', 'text_adapter')))

# official noise: clip(x + n) truncated to 8 bit (as the dataset base)
noise_params = dict(
    denoise_15=dict(quantize=True),
    denoise_25=dict(quantize=True),
    denoise_50=dict(quantize=True))
train_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='CenterCropToMultiple', base=16),
    dict(type='PairedRandomCrop', crop_size=128),
    # official: no augmentation for the adapter tuning
    dict(type='Degrade', params=noise_params,
         degradation_classes=degradation_classes),
    dict(type='PackRestorationInputs'),
]
train_dataloader = dict(
    batch_size=32, dataset=dict(pipeline=train_pipeline))

val_evaluator = dict(type='DegradationRecognitionMetric')
test_evaluator = val_evaluator

