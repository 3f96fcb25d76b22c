# IRSTD-1k (1001 real images, 512x512), official RPCANet recipe: grey images in
# [0, 1], resized to 256x256 (image bilinear, mask nearest), no augmentation
# (irstd_common.py). The test pipeline resizes too, so metrics are computed
# on 256x256 masks.
_base_ = ['./irstd_common.py']
dataset_type = 'IRSTD1kDataset'
data_root = 'data/IRSTD-1k'

train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
