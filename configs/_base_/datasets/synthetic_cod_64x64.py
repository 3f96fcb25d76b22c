# The embedded SyntheticCOD data (synthetic_cod.py) at the size of the tiny
# COD models (RUN-tiny, NUN-tiny, the FPN baseline): 64 x 64 images, RUN's
# augmentations with a 5 px crop border, loading in the main process
# (num_workers=0; CleanWarmupHook needs it); test on the clean split and its
# four medium degradations and the held-out real-photo split, 200 images each.
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


# Scenes with real content: the training photographs of
# dunseg/datasets/synthesis/cod_scenes.py (COD_TRAIN_PHOTO_SOURCES) beside
# the procedural textures, and half of the objects made of another
# photograph or texture colour-matched to their surroundings (the other half
# cut from their own background). Two photographs that no embedded training
# set uses (COD_HELDOUT_PHOTO_SOURCES: matplotlib's grace_hopper.jpg and
# skimage's rocket) make the held-out real-photo test split.
train_photos = ('grass', 'gravel', 'brick', 'moon', 'chelsea', 'coffee',
                'astronaut', 'camera', 'coins', 'immunohistochemistry',
                'retina', 'cell')
heldout_photos = ('matplotlib:grace_hopper.jpg', 'rocket')
scene_generator = dict(sources=train_photos, foreign_object_prob=0.5)
heldout_generator = dict(sources=heldout_photos, texture_prob=0.0,
                         test_fraction=1.0, foreign_object_prob=0.5)


def _test_set(degradation=None, heldout=False):
    return dict(
        type='SyntheticCODDataset',
        num_samples=200,
        img_size=img_size,
        seed=0,
        split='test',
        degradation=degradation,
        generator=heldout_generator if heldout else scene_generator,
        # undegraded sets are their own restoration targets: a restorer is
        # scored on how well it leaves them alone
        clean_reference=degradation is None,
        dataset_name='SyntheticCOD-heldout-photos' if heldout else None,
        pipeline=test_pipeline)


train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(img_size=img_size, generator=scene_generator,
                 pipeline=train_pipeline))
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
        _test_set(heldout=True),
    ]))
# the centre-Gaussian and all-zero maps scored beside the model on every set
val_evaluator = dict(type='CODMetric',
                     baselines=('centre-gaussian', 'all-zero'))
test_evaluator = val_evaluator
