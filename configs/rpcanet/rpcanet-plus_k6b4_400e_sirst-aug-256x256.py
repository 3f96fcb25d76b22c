# RPCANet+ (paper config: b=4, 215,916 params) on SIRST-Aug;
# official checkpoint SIRST_Aug_mIoU_74.56.pkl loads here.
_base_ = [
    '../_base_/models/rpcanet_plus.py', '../_base_/datasets/sirst_aug.py',
    '../_base_/schedules/schedule_400e_adam_poly.py'
]
