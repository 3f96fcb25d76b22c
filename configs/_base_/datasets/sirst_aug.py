# SIRST-Aug (8525 train / 545 test images, already 256x256), official RPCANet
# recipe: grey images in [0, 1], no resize; training uses random vertical
# flip, horizontal flip and transpose, each with probability 0.5.
# The official loader applies the same random flips/transpose to test images
# (with their masks); the test pipeline below is deterministic instead.
# No resize (the images are 256x256 already; irstd_common.py's img_scale
# is not used here).
_base_ = ['./irstd_common.py']
dataset_type = 'SIRSTAugDataset'
data_root = 'data/SIRST-Aug'

train_pipeline = [
    dict(type='LoadISTDImageFromFile', color_type='grayscale'),
    dict(type='LoadISTDAnnotations'),
    # mmcv's RandomFlip. Independent h- and v-flips with p=0.5 each are the
    # same distribution as one of {none, h, v, both} with p=0.25 each; a
    # single transform keeps `flip_direction` meaningful.
    dict(
        type='RandomFlip',
        prob=[0.25, 0.25, 0.25],
        direction=['horizontal', 'vertical', 'diagonal']),
    dict(type='RandomTranspose', prob=0.5),
    dict(type='PackISTDInputs'),
]
test_pipeline = [
    dict(type='LoadISTDImageFromFile', color_type='grayscale'),
    dict(type='LoadISTDAnnotations'),
    dict(type='PackISTDInputs'),
]

train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root,
                 pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root,
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
