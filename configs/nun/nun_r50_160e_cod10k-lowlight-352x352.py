# NUN-R50 on COD under low light (Retinex-style illumination reduction with
# Poisson-Gaussian noise): training images are degraded on the fly at a
# random level (light / medium / heavy); the four test sets are degraded once
# per image and level with fixed seeds (every method sees the same pixels;
# tools/dataset_converters/make_degraded_cod.py writes them to disk). Masks
# and restorations are reported per set and level (CAMO-lowlight-medium/Sm,
# PSNR_CAMO-lowlight-medium, ...). The haze, low-resolution and combined
# configs inherit this one and change the degradation kind. Model, schedule
# and batch size as nun_r50_160e_cod10k-352x352.py.
_base_ = [
    '../_base_/models/nun_r50.py', '../_base_/datasets/cod10k.py',
    '../_base_/schedules/schedule_160e_adam_step.py'
]
degradation = 'lowlight'
test_pipeline = [
    dict(type='LoadCODImageFromFile'),
    dict(type='ResizeCOD', scale=(352, 352)),
    dict(type='LoadCODAnnotations', with_edge=False),
    dict(type='PackCODInputs'),
]
train_dataloader = dict(
    batch_size=18,
    dataset=dict(
        degradation=dict(kind=degradation,
                         level=('light', 'medium', 'heavy'))))
test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='DegradedCODTestSets',
        kind=degradation,
        levels=('light', 'medium', 'heavy'),
        sets=('CHAMELEON', 'CAMO', 'COD10K', 'NC4K'),
        data_root='data/TestDataset',
        pipeline=test_pipeline))
val_dataloader = test_dataloader
# the selected restorations too, against the clean images (PSNR / SSIM per
# set and level, with the degraded input as the baseline)
val_evaluator = [dict(type='CODMetric'), dict(type='RestorationMetric')]
test_evaluator = val_evaluator
