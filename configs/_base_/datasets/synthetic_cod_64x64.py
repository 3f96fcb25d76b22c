# The embedded SyntheticCOD data (synthetic_cod.py) at the size of the tiny
# COD models (RUN-tiny, NUN-tiny, the FPN baseline): 64 x 64 images, RUN's
# augmentations with a 5 px crop border, loading in the main process
# (num_workers=0; CleanWarmupHook needs it); test on the clean split and its
# four medium degradations, 200 images each.
_base_ = ['./synthetic_cod.py']

img_size = (64, 64)  # (H, W)
train_pipeline = [
    dict(type='CODRandomFlip', prob=0.5),
    dict(type='CODRandomCrop', border=5),
    dict(type='CODRandomRotate', prob=0.2, max_angle=15),
    dict(type='CODColorEnhance'),
    dict(type='ResizeCOD', scale=(img_size[1], img_size[0])),
    dict(type='PackCODInputs'),
]
test_pipeline = [dict(type='PackCODInputs')]


def _test_set(degradation=None):
    return dict(
        type='SyntheticCODDataset',
        num_samples=200,
        img_size=img_size,
        seed=0,
        split='test',
        degradation=degradation,
        pipeline=test_pipeline)


train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(img_size=img_size, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0, persistent_workers=False, dataset=_test_set())
test_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(datasets=[
        _test_set(),
        _test_set(dict(kind='lowlight', level='medium')),
        _test_set(dict(kind='haze', level='medium')),
        _test_set(dict(kind='lowres', level='medium')),
        _test_set(dict(kind='combined', level='medium')),
    ]))
