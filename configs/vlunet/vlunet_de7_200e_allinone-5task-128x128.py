# VLU-Net, 5-task all-in-one (noise sigma 15/25/50, haze, rain, blur, low
# light; de_dim 7), official recipe: 128x128 patches with flip/rot90
# augmentation, batch 4 per GPU x 8 GPUs, AdamW 2e-4, 15-epoch warm-up +
# cosine over 200 epochs, L1 on the final output.
_base_ = [
    '../_base_/models/vlunet.py', '../_base_/datasets/allinone_5task.py',
    '../_base_/schedules/schedule_200e_adamw_warmup-cosine.py'
]
# the official DDP run sets find_unused_parameters (down1_2_i is unused)
find_unused_parameters = True
