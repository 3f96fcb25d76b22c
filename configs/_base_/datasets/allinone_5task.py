# All-in-one restoration, 5-task setting (7 degradation classes: noise sigma
# 15/25/50, haze, rain, blur, low light), official VLU-Net data recipe:
# BSD400+WED with Gaussian noise added on the fly (each noise level x3),
# Rain100L x120, RESIDE-OTS, GoPro and LOL x1; 128x128 random patches with
# one of the 7 official flip/rot90 modes; 4 patches per GPU (the model config
# sets the total). Test: CBSD68 and Urban100 (sigma 15/25/50), SOTS-outdoor,
# Rain100L, GoPro, LOL, centre-cropped to a multiple of 16 as the official
# evaluation. Layout: docs/get_started.md, 'Restoration data layouts'.
_base_ = ['./allinone_common.py']
data_root = _base_.data_root
noise_degrade_params = _base_.noise_degrade_params
restoration_tasks = ('denoise_15', 'denoise_25', 'denoise_50', 'dehaze',
                     'derain', 'deblur', 'delowlight')
restoration_classes = restoration_tasks
train_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='CenterCropToMultiple', base=16),
    dict(type='PairedRandomCrop', crop_size=128),
    dict(type='PairedRandomFlipRot'),
    # synthesises the noisy image of clean-only samples; real pairs pass
    dict(type='Degrade',
         params=noise_degrade_params,
         degradation_classes=restoration_classes),
    dict(type='PackRestorationInputs'),
]
test_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='CenterCropToMultiple', base=16),
    dict(type='Degrade',
         params=noise_degrade_params,
         degradation_classes=restoration_classes),
    dict(type='PackRestorationInputs'),
]


def _denoise_test(clean_dir, name, sigma):
    return dict(type='DenoiseTestDataset',
                data_root=data_root,
                clean_dir=clean_dir,
                dataset_name=name,
                sigma=sigma,
                degradation_classes=restoration_classes,
                pipeline=test_pipeline)


def _paired_test(degraded_dir, clean_dir, degradation, name, pairing='same'):
    return dict(type='PairedImageDataset',
                data_root=data_root,
                degraded_dir=degraded_dir,
                clean_dir=clean_dir,
                degradation=degradation,
                pairing=pairing,
                dataset_name=name,
                degradation_classes=restoration_classes,
                pipeline=test_pipeline)


restoration_test_sets = [
    _denoise_test('test/denoise/bsd68', 'CBSD68', 15),
    _denoise_test('test/denoise/bsd68', 'CBSD68', 25),
    _denoise_test('test/denoise/bsd68', 'CBSD68', 50),
    _denoise_test('test/denoise/urban100', 'Urban100', 15),
    _denoise_test('test/denoise/urban100', 'Urban100', 25),
    _denoise_test('test/denoise/urban100', 'Urban100', 50),
    _paired_test('test/dehaze/input',
                 'test/dehaze/target',
                 'dehaze',
                 'SOTS-outdoor',
                 pairing='prefix'),
    _paired_test('test/derain/Rain100L/input', 'test/derain/Rain100L/target',
                 'derain', 'Rain100L'),
    _paired_test('test/deblur/gopro/input', 'test/deblur/gopro/target',
                 'deblur', 'GoPro'),
    _paired_test('test/enhance/lol/input', 'test/enhance/lol/target',
                 'delowlight', 'LOL'),
]

train_dataloader = dict(
    dataset=dict(tasks=restoration_tasks,
                 degradation_classes=restoration_classes,
                 pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(datasets=restoration_test_sets))
test_dataloader = val_dataloader
