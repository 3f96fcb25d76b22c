# RPCANet on NUDT-SIRST; official checkpoint NUDT_SIRST_mIoU_89.31.pkl loads here.
_base_ = [
    '../_base_/models/rpcanet.py', '../_base_/datasets/nudt_sirst.py',
    '../_base_/schedules/schedule_400e_adam_poly.py'
]
