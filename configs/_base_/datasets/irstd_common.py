# Common pieces of the four real infrared small-target sets (sirst_aug.py,
# nuaa_sirst.py, nudt_sirst.py, irstd1k.py), official RPCANet recipe: grey
# images in [0, 1], resized to 256x256 (image bilinear, mask nearest), no
# augmentation; batch 8; validation and test on the test split with
# ISTDMetric. Each dataset file sets its dataset type and root, and what
# else differs.
img_scale = (256, 256)  # (W, H)

train_pipeline = [
    dict(type='LoadISTDImageFromFile', color_type='grayscale'),
    dict(type='LoadISTDAnnotations'),
    dict(type='ResizeISTD', scale=img_scale),
    dict(type='PackISTDInputs'),
]
test_pipeline = [
    dict(type='LoadISTDImageFromFile', color_type='grayscale'),
    dict(type='LoadISTDAnnotations'),
    dict(type='ResizeISTD', scale=img_scale),
    dict(type='PackISTDInputs'),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(split='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(split='test', pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='ISTDMetric')
test_evaluator = val_evaluator
