# NUN-R50 on COD under haze, then low light, then low resolution: training images are degraded on the fly at
# a random level (light / medium / heavy); the four test sets are degraded
# once per image and level with fixed seeds (every method sees the same
# pixels; tools/dataset_converters/make_degraded_cod.py writes them to disk).
# Masks and restorations are reported per set and level
# (CAMO-combined-medium/Sm, PSNR_CAMO-combined-medium, ...).
_base_ = ['./nun_r50_cod10k.py']
degradation = 'combined'
levels = ('light', 'medium', 'heavy')
test_sets = ('CHAMELEON', 'CAMO', 'COD10K', 'NC4K')
test_pipeline = [
    dict(type='LoadCODImageFromFile'),
    dict(type='ResizeCOD', scale=(352, 352)),
    dict(type='LoadCODAnnotations', with_edge=False),
    dict(type='PackCODInputs'),
]
train_dataloader = dict(
    dataset=dict(degradation=dict(kind=degradation, level=levels)))
test_dataloader = dict(
    dataset=dict(
        type='ConcatDataset',
        datasets=[
            dict(type='CODDataset', data_root=f'data/TestDataset/{name}',
                 degradation=dict(kind=degradation, level=level, seed=0),
                 pipeline=test_pipeline)
            for name in test_sets for level in levels
        ]))
val_dataloader = test_dataloader
# the selected restorations too, against the clean images (PSNR / SSIM per
# set and level, with the degraded input as the baseline)
val_evaluator = [dict(type='CODMetric'), dict(type='RestorationMetric')]
test_evaluator = val_evaluator
