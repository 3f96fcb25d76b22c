# VL-DUN's joint setting (Sec. 4.1): ACDC (MRI, 4 classes), BraTS2021 (T1
# MRI, tumour), COVID-19-CT-Seg (CT, infection) and HCC-TACE-Seg (CT, liver
# tumour) trained together and tested per dataset. Layouts, splits and
# normalisation as in the four single-dataset base configs (acdc.py,
# brats2021.py, covid19_ct.py, hcc_tace_seg.py); every slice fitted into
# 256x256 and undersampled by its modality (CT radial, MRI Cartesian, 4x).
# The datasets differ in classes (ACDC 4, the others 2): every sample carries
# its own num_classes / classes, so ConcatDataset ignores 'classes' when it
# compares the datasets' metainfo, and MedicalSegMetric scores each dataset
# with its own classes (Dice = mean over the four datasets, the paper's
# "Average" column).
_base_ = ['./medical_common.py']
data_root = 'data'


def _sets(split, pipeline):
    return [
        dict(type='ACDCDataset',
             data_root=f'{data_root}/ACDC/'
             f'{"training" if split == "train" else "testing"}',
             foreground_only=True, pipeline=pipeline),
        dict(type='BraTS2021Dataset', data_root=f'{data_root}/BraTS2021',
             ann_file=f'{split}.txt', sequence='t1', label_mode='whole',
             foreground_only=True, slice_step=2, pipeline=pipeline),
        dict(type='COVID19CTDataset', data_root=f'{data_root}/COVID19CT',
             ann_file=f'{split}.txt', ct_window=(-600, 1500),
             foreground_only=True, pipeline=pipeline),
        dict(type='HCCTACESegDataset', data_root=f'{data_root}/HCC-TACE-Seg',
             ann_file=f'{split}.txt', layout='dicom', label_mode='tumour',
             ct_window=(40, 400), foreground_only=True, pipeline=pipeline),
    ]


train_dataloader = dict(
    dataset=dict(_delete_=True, type='ConcatDataset', ignore_keys=['classes'],
                 datasets=_sets('train', _base_.train_pipeline)))
test_dataloader = dict(
    dataset=dict(_delete_=True, type='ConcatDataset', ignore_keys=['classes'],
                 datasets=_sets('test', _base_.test_pipeline)))
val_dataloader = test_dataloader
