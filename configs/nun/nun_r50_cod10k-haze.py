# NUN-R50 on COD under haze (atmospheric scattering with a depth-like transmission map): training images are degraded on the fly at
# a random level (light / medium / heavy); the four test sets are degraded
# once per image and level with fixed seeds (every method sees the same
# pixels; tools/dataset_converters/make_degraded_cod.py writes them to disk).
# Reported per test set and level (e.g. CAMO-haze-medium/Sm).
_base_ = ['./nun_r50_cod10k.py']
degradation = 'haze'
levels = ('light', 'medium', 'heavy')
test_sets = ('CHAMELEON', 'CAMO', 'COD10K', 'NC4K')
img_scale = (352, 352)

train_pipeline = [
    dict(type='LoadCODImageFromFile'),
    dict(type='LoadCODAnnotations', with_edge=True),
    dict(type='CODRandomFlip', prob=0.5),
    dict(type='CODRandomCrop', border=30),
    dict(type='CODRandomRotate', prob=0.2, max_angle=15),
    dict(type='CODColorEnhance'),
    dict(type='CODRandomPepper', ratio=0.0015),
    dict(type='ResizeCOD', scale=img_scale),
    dict(type='GenerateEdgeFromMask', width=5),
    dict(type='CODDegrade', kind=degradation, level=levels),
    dict(type='PackCODInputs'),
]


def _test_set(name, level):
    return dict(
        type='CODDataset',
        data_root=f'data/TestDataset/{name}',
        img_dir='Imgs',
        mask_dir='GT',
        dataset_name=f'{name}-{degradation}-{level}',
        pipeline=[
            dict(type='LoadCODImageFromFile'),
            dict(type='ResizeCOD', scale=img_scale),
            dict(type='CODDegrade', kind=degradation, level=level, seed=0),
            dict(type='LoadCODAnnotations', with_edge=False),
            dict(type='PackCODInputs'),
        ])


train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(
    dataset=dict(
        type='ConcatDataset',
        datasets=[
            _test_set(name, level) for name in test_sets for level in levels
        ]))
val_dataloader = test_dataloader
# the selected restorations too, against the clean images (PSNR / SSIM per
# set and level, with the degraded input as the baseline)
val_evaluator = [dict(type='CODMetric'), dict(type='RestorationMetric')]
test_evaluator = val_evaluator
