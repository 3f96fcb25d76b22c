# ACDC cine-MRI (see docs/get_started.md, "Medical data"): the released
# folders, one folder per patient with the ED/ES frames and their labels
#   data/ACDC/training/patientXXX/patientXXX_frameYY{,_gt}.nii.gz  (100)
#   data/ACDC/testing/patientXXX/...                                (50)
# 4 classes: 0 background, 1 RV, 2 myocardium, 3 LV. Slices with labels only
# (as IMIS-bench keeps them), fitted into 256x256 (keep_ratio pads with
# background), undersampled by Cartesian 4x masks (MRI).
_base_ = ['./medical_common.py']
dataset_type = 'ACDCDataset'
data_root = 'data/ACDC'

train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=f'{data_root}/training',
                 foreground_only=True))
test_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=f'{data_root}/testing',
                 foreground_only=True))
val_dataloader = test_dataloader
