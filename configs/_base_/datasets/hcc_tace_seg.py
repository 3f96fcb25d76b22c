# HCC-TACE-Seg liver tumour CT (see docs/get_started.md, "Medical data"), as
# TCIA ships it: data/HCC-TACE-Seg/HCC_XXX/<study>/<series>/*.dcm, one DICOM
# SEG per patient naming the CT series it annotates (layout='nifti' reads
# converted copies: images/<case>.nii.gz + masks/<case>.nii.gz). 105 patients
# without a split: list patient folders (HCC_001 ...) in
# data/HCC-TACE-Seg/train.txt and test.txt. Abdomen window (40, 400) HU;
# classes background / tumour (label_mode='liver_tumour' adds the liver).
# Slices with tumour only, 512x512 -> 256x256, radial undersampling
# (sparse-view CT) sampling 1/4 of k-space.
_base_ = ['./medical_common.py']
dataset_type = 'HCCTACESegDataset'
data_root = 'data/HCC-TACE-Seg'
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
                 layout='dicom', label_mode='tumour', ct_window=(40, 400),
                 foreground_only=True, pipeline=train_pipeline))
test_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='test.txt',
                 layout='dicom', label_mode='tumour', ct_window=(40, 400),
                 foreground_only=True, pipeline=test_pipeline))
val_dataloader = test_dataloader
