# Common pieces of the medical sets (acdc.py, brats2021.py, covid19_ct.py,
# hcc_tace_seg.py and their union vldun_medical4.py), VL-DUN's setting:
# every slice fitted into 256x256 (keep_ratio pads with background), random
# flips / rot90 for training, then degraded by its modality's k-space
# undersampling, 4x (MRI: Cartesian with an 8 % centre; CT: radial, sparse
# view); fixed masks at test time (seed 0). Batch 8; validation = the test
# split, scored by MedicalSegMetric (the test run adds HD95). Each dataset
# file sets its datasets, and what else differs (the CT sets: radial
# undersampling without a centre fraction).
img_size = 256

train_pipeline = [
    dict(type='ResizeMedical', scale=img_size, keep_ratio=True),
    dict(type='PairedRandomFlipRot', include_identity=True,
         keys=('gt_img', 'gt_seg_map')),
    dict(type='KSpaceUndersample', modality='auto', acceleration=4.0,
         center_fraction=0.08),
    dict(type='PackMedicalInputs'),
]
test_pipeline = [
    dict(type='ResizeMedical', scale=img_size, keep_ratio=True),
    dict(type='KSpaceUndersample', modality='auto', seed=0,
         acceleration=4.0, center_fraction=0.08),
    dict(type='PackMedicalInputs'),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    # slices of one volume in a row: the datasets cache the last volumes
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader

val_evaluator = dict(type='MedicalSegMetric')
test_evaluator = dict(type='MedicalSegMetric', hd95=True)
