# Embedded procedural concealed-object data (no files needed): objects whose
# texture is cut from their own background (see
# dunseg/datasets/synthesis/cod_scenes.py), 128x128 RGB in [0, 1], pixel-exact masks
# and 5 px edge bands. Train and test use independent random streams of the
# same seed and disjoint regions of the source photographs. The test set is the
# clean split plus its four NUN degradations at the medium level; CODMetric
# reports each under its own name (SyntheticCOD, SyntheticCOD-lowlight-medium,
# ...). To write the degraded sets to disk, see
# tools/dataset_converters/make_degraded_cod.py.
dataset_type = 'SyntheticCODDataset'
img_size = (128, 128)  # (H, W)
num_test = 200
# 'easy' (learnable from scratch in minutes on a CPU), 'medium' or 'hard':
# how closely objects match their surroundings (DIFFICULTIES in
# dunseg/datasets/synthesis/cod_scenes.py); colour thresholds fail on all three.
difficulty = 'easy'

train_pipeline = [
    # RUN's augmentations, the crop border scaled to the small images.
    dict(type='CODRandomFlip', prob=0.5),
    dict(type='CODRandomCrop', border=10),
    dict(type='CODRandomRotate', prob=0.2, max_angle=15),
    dict(type='CODColorEnhance'),
    dict(type='ResizeCOD', scale=(img_size[1], img_size[0])),
    dict(type='PackCODInputs'),
]
test_pipeline = [
    dict(type='PackCODInputs'),
]


def _test_set(degradation=None):
    return dict(
        type=dataset_type,
        num_samples=num_test,
        img_size=img_size,
        seed=0,
        split='test',
        difficulty=difficulty,
        degradation=degradation,
        pipeline=test_pipeline)


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
        difficulty=difficulty,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=_test_set())
test_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='ConcatDataset',
        datasets=[
            _test_set(),
            _test_set(dict(kind='lowlight', level='medium')),
            _test_set(dict(kind='haze', level='medium')),
            _test_set(dict(kind='lowres', level='medium')),
            _test_set(dict(kind='combined', level='medium')),
        ]))

val_evaluator = dict(type='CODMetric')
test_evaluator = val_evaluator
