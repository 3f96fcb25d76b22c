# Embedded all-in-one restoration data, generated on the fly (no files
# needed): crops of the photographs shipped with scikit-image plus procedural
# textures, each degraded with one of the 7 VLU-Net degradation types
# (noise sigma 15/25/50, haze, rain, blur, low light; balanced classes,
# deterministic per seed and index). Train and test use independent random
# streams and disjoint regions of the photographs.
dataset_type = 'SyntheticDegradationDataset'
restoration_classes = ('denoise_15', 'denoise_25', 'denoise_50', 'dehaze',
                       'derain', 'deblur', 'delowlight')
# Blur kernels of at most 11 px (camera shake or defocus), a sixth of a 64 px
# crop. The synthesizer's default 15 px spans a quarter of it; trained on blur
# alone for 400 iterations, the tiny VLU-Net gained 0.4 dB over the input at
# 15 px and 1.0 dB at 9 px (measured, crops blurred with wrapped-around
# borders; the dataset now blurs the scene around each crop: blur_context).
degradation_params = dict(deblur=dict(size=11))

train_pipeline = [
    # images come from the generator: no loading step
    dict(type='PairedRandomFlipRot'),
    dict(type='PackRestorationInputs'),
]
test_pipeline = [
    dict(type='PackRestorationInputs'),
]

train_dataloader = dict(batch_size=8,
                        num_workers=2,
                        persistent_workers=True,
                        sampler=dict(type='DefaultSampler', shuffle=True),
                        collate_fn=dict(type='default_collate'),
                        dataset=dict(type=dataset_type,
                                     num_samples=2800,
                                     img_size=64,
                                     degradations=restoration_classes,
                                     seed=0,
                                     split='train',
                                     degradation_params=degradation_params,
                                     pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        num_samples=140,  # 20 per degradation type
        img_size=96,
        degradations=restoration_classes,
        seed=0,
        split='test',
        degradation_params=degradation_params,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='RestorationMetric')
test_evaluator = val_evaluator
