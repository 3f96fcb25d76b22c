# COVID-19-CT-Seg lung infection (see docs/get_started.md, "Medical data"),
# the Kaggle layout data/COVID19CT/{ct_scans,infection_mask}/ (+ metadata.csv;
# the Zenodo release: img_dir='COVID-19-CT-Seg_20cases',
# mask_dir='Infection_Mask'). 20 volumes without a split: list case ids (file
# names without .nii/.nii.gz) in data/COVID19CT/train.txt and test.txt.
# Lung window (-600, 1500) HU; the radiopaedia volumes (0-255, not HU) are
# percentile scaled. Slices with infection only, 512x512 -> 256x256, radial
# undersampling (sparse-view CT) sampling 1/4 of k-space.
_base_ = ['./medical_common.py']
dataset_type = 'COVID19CTDataset'
data_root = 'data/COVID19CT'
img_size = 256
# radial undersampling (sparse-view CT) has no centre fraction
undersampling = dict(acceleration=4.0)
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
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='train.txt',
                 ct_window=(-600, 1500), foreground_only=True,
                 pipeline=train_pipeline))
test_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='test.txt',
                 ct_window=(-600, 1500), foreground_only=True,
                 pipeline=test_pipeline))
val_dataloader = test_dataloader
