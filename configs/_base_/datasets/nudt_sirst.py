# NUDT-SIRST (1327 images, 256x256), official RPCANet recipe: grey images in
# [0, 1], resized to 256x256 (image bilinear, mask nearest), no augmentation
# (irstd_common.py).
_base_ = ['./irstd_common.py']
dataset_type = 'NUDTSIRSTDataset'
data_root = 'data/NUDT-SIRST'

train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
