# NUN-R50 on COD under haze, then low light, then low resolution:
# nun_r50_160e_cod10k-lowlight-352x352.py with the degradation kind changed (same levels,
# test sets, seeds and metrics).
_base_ = ['./nun_r50_160e_cod10k-lowlight-352x352.py']
train_dataloader = dict(dataset=dict(degradation=dict(kind='combined')))
test_dataloader = dict(dataset=dict(kind='combined'))
val_dataloader = test_dataloader
