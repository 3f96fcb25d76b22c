# RPCANet on NUAA-SIRST (reported in the RPCANet++ paper: IoU 70.37).
_base_ = [
    '../_base_/models/rpcanet.py', '../_base_/datasets/nuaa_sirst.py',
    '../_base_/schedules/schedule_400e_adam_poly.py'
]
