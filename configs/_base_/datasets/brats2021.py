# BraTS 2021 (see docs/get_started.md, "Medical data"): T1 for restoration
# (as VL-DUN), tumour = seg > 0 (label_mode='regions' gives necrotic core /
# oedema / enhancing tumour). The 1,251 labelled cases ship without a split:
# list case ids, one per line, in data/BraTS2021/train.txt and test.txt, e.g.
#   ls data/BraTS2021 | grep BraTS2021_ | head -1000 > data/BraTS2021/train.txt
#   ls data/BraTS2021 | grep BraTS2021_ | tail -251 > data/BraTS2021/test.txt
# Slices with tumour only, every 2nd (neighbours are near duplicates),
# 240x240 -> 256x256, Cartesian 4x undersampling (MRI).
dataset_type = 'BraTS2021Dataset'
data_root = 'data/BraTS2021'
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
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='train.txt',
                 sequence='t1', label_mode='whole', foreground_only=True,
                 slice_step=2, pipeline=train_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='test.txt',
                 sequence='t1', label_mode='whole', foreground_only=True,
                 slice_step=2, pipeline=test_pipeline))
val_dataloader = test_dataloader

val_evaluator = dict(type='MedicalSegMetric')
test_evaluator = dict(type='MedicalSegMetric', hd95=True)
