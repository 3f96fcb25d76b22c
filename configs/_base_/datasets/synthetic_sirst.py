# Procedural synthetic infrared small-target data, generated on the fly
# (no files needed): 1-channel 128x128 images in [0, 1] with sky / sea / ground
# clutter and 0-3 targets of 1-9 px. Train and test use independent random
# streams of the same seed. To write it to disk as PNGs instead, see
# tools/dataset_converters/make_synthetic_sirst.py.
dataset_type = 'SyntheticSIRSTDataset'
img_size = (128, 128)  # (H, W)

train_pipeline = [
    # Images come from the generator, so there is no loading step.
    dict(
        type='RandomFlip',
        prob=[0.25, 0.25, 0.25],
        direction=['horizontal', 'vertical', 'diagonal']),
    dict(type='RandomTranspose', prob=0.5),
    dict(type='PackISTDInputs'),
]
test_pipeline = [
    dict(type='PackISTDInputs'),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        num_samples=2000,
        img_size=img_size,
        seed=0,
        split='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        num_samples=200,
        img_size=img_size,
        seed=0,
        split='test',
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='ISTDMetric')
test_evaluator = val_evaluator
