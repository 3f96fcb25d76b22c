# IRSTD-1k (1001 real images, 512x512), official RPCANet recipe: grey images in
# [0, 1], resized to 256x256 (image bilinear, mask nearest), no augmentation.
# The test pipeline resizes too, so metrics are computed on 256x256 masks.
dataset_type = 'IRSTD1kDataset'
data_root = 'data/IRSTD-1k'
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
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
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
        data_root=data_root,
        split='test',
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='ISTDMetric')
test_evaluator = val_evaluator
