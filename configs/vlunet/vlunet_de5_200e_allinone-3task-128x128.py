# VLU-Net, 3-task all-in-one (noise sigma 15/25/50, haze, rain; de_dim 5),
# 34,364,852 parameters; official recipe as the 5-task config.
_base_ = [
    '../_base_/models/vlunet.py', '../_base_/datasets/allinone_3task.py',
    '../_base_/schedules/schedule_200e_adamw_warmup-cosine.py'
]
degradation_classes = ('denoise_15', 'denoise_25', 'denoise_50', 'dehaze',
                       'derain')
degradation_prompts = ('image with noise', 'image with many noise',
                       'image with large amount of noise', 'image with haze',
                       'image with rain')
model = dict(
    backbone=dict(de_dim=5),
    prior=dict(prompts=degradation_prompts),
    prior_classes=degradation_classes)
find_unused_parameters = True
