# RPCANet+ as in the released IRSTD-1k checkpoint (IRSTD_1K_mIoU_64.68.pkl):
# b = 16 and 3 noise layers, 433,428 params.
_base_ = './rpcanet-plus_k6b4_400e_irstd1k-256x256.py'
model = dict(backbone=dict(bottleneck_channels=16, noise_layers=3))
