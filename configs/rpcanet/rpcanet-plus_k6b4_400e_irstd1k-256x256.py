# RPCANet+ paper config (b=4) on IRSTD-1k. The released IRSTD-1k checkpoint
# uses b=16 and 3 noise layers: see rpcanet-plus_k6b16n3_400e_irstd1k-256x256.py.
_base_ = [
    '../_base_/models/rpcanet_plus.py', '../_base_/datasets/irstd1k.py',
    '../_base_/schedules/schedule_400e_adam_poly.py'
]
