# RPCANet+ paper config (b=4) on NUDT-SIRST. The released NUDT checkpoint
# was trained with b=16: see rpcanet-plus_k6b16_400e_nudt-sirst-256x256.py.
_base_ = [
    '../_base_/models/rpcanet_plus.py', '../_base_/datasets/nudt_sirst.py',
    '../_base_/schedules/schedule_400e_adam_poly.py'
]
