# RPCANet+ paper config (b=4) on NUAA-SIRST.
_base_ = [
    '../_base_/models/rpcanet_plus.py', '../_base_/datasets/nuaa_sirst.py',
    '../_base_/schedules/schedule_400e_adam_poly.py'
]
