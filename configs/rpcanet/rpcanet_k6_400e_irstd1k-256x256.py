# RPCANet on IRSTD-1k (resized to 256x256); official checkpoint IRSTD_1K_mIoU_63.21.pkl.
_base_ = [
    '../_base_/models/rpcanet.py', '../_base_/datasets/irstd1k.py',
    '../_base_/schedules/schedule_400e_adam_poly.py'
]
