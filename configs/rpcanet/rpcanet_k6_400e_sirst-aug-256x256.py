# RPCANet on SIRST-Aug; official checkpoint SIRST_Aug_mIoU_72.54.pkl.
_base_ = [
    '../_base_/models/rpcanet.py', '../_base_/datasets/sirst_aug.py',
    '../_base_/schedules/schedule_400e_adam_poly.py'
]
