# BraTS 2021 (see docs/get_started.md, "Medical data"): T1 for restoration
# (as VL-DUN), tumour = seg > 0 (label_mode='regions' gives necrotic core /
# oedema / enhancing tumour). The 1,251 labelled cases ship without a split:
# list case ids, one per line, in data/BraTS2021/train.txt and test.txt, e.g.
#   ls data/BraTS2021 | grep BraTS2021_ | head -1000 > data/BraTS2021/train.txt
#   ls data/BraTS2021 | grep BraTS2021_ | tail -251 > data/BraTS2021/test.txt
# Slices with tumour only, every 2nd (neighbours are near duplicates),
# 240x240 -> 256x256, Cartesian 4x undersampling (MRI).
_base_ = ['./medical_common.py']
dataset_type = 'BraTS2021Dataset'
data_root = 'data/BraTS2021'

train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='train.txt',
                 sequence='t1', label_mode='whole', foreground_only=True,
                 slice_step=2))
test_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='test.txt',
                 sequence='t1', label_mode='whole', foreground_only=True,
                 slice_step=2))
val_dataloader = test_dataloader
