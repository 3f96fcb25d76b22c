# NUAA-SIRST (427 real images of varied sizes), official RPCANet recipe: grey
# images in [0, 1], resized to 256x256 (image bilinear, mask nearest), no
# augmentation (irstd_common.py). The ACM release keeps the splits in
# idx_427/; for the copy shipped with the RPCANet code set
#   split_file=dict(train='img_idx/trainval.txt', test='img_idx/test1.txt')
# in both dataset dicts.
_base_ = ['./irstd_common.py']
dataset_type = 'NUAASIRSTDataset'
data_root = 'data/NUAA-SIRST'

train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
