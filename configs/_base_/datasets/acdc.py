# ACDC cine-MRI (see docs/get_started.md, "Medical data"): the released
# folders, one folder per patient with the ED/ES frames and their labels
#   data/ACDC/training/patientXXX/patientXXX_frameYY{,_gt}.nii.gz  (100)
#   data/ACDC/testing/patientXXX/...                                (50)
# 4 classes: 0 background, 1 RV, 2 myocardium, 3 LV. Slices with labels only
# (as IMIS-bench keeps them), fitted into 256x256 (keep_ratio pads with
# background), undersampled by Cartesian 4x masks (MRI).
dataset_type = 'ACDCDataset'
data_root = 'data/ACDC'
img_size = 256
undersampling = dict(acceleration=4.0, center_fraction=0.08)

train_pipeline = [
    dict(type='ResizeMedical', scale=img_size, keep_ratio=True),
    dict(type='PairedRandomFlipRot', include_identity=True,
         keys=('gt_img', 'gt_seg_map')),
    dict(type='KSpaceUndersample', modality='auto', **undersampling),
    dict(type='PackMedicalInputs'),
]
test_pipeline = [
    dict(type='ResizeMedical', scale=img_size, keep_ratio=True),
    dict(type='KSpaceUndersample', modality='auto', seed=0, **undersampling),
    dict(type='PackMedicalInputs'),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, data_root=f'{data_root}/training',
                 foreground_only=True, pipeline=train_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    # slices of one volume in a row: the dataset caches the last volumes
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, data_root=f'{data_root}/testing',
                 foreground_only=True, pipeline=test_pipeline))
val_dataloader = test_dataloader

val_evaluator = dict(type='MedicalSegMetric')
test_evaluator = dict(type='MedicalSegMetric', hd95=True)
