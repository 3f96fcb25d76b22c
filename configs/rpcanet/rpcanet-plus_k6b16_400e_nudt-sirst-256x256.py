# RPCANet+ as in the released NUDT-SIRST checkpoint (NUDT_SIRST_mIoU_92.37.pkl):
# bottleneck b = 16 (the L-RPCANet code default), 6 noise layers, 475,188 params.
_base_ = './rpcanet-plus_k6b4_400e_nudt-sirst-256x256.py'
model = dict(backbone=dict(bottleneck_channels=16))
