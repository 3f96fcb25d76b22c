# The embedded DA-CLIP of daclip_tiny_6e_synthetic-degradation-64x64.py with two more
# words, for NUN: 'low-resolution' (NUN's low-resolution setting, Real-
# ESRGAN's practical chain over the light-to-heavy ranges of
# dunseg.datasets.transforms.cod.LOWRES_LEVELS) and 'clean' (no degradation:
# the identity). Neither is a DA-CLIP word; without them the prior has no way
# to tell NUN's DeRUN that a low-resolution or a clean image needs little
# restoration (configs/nun/README.md, "low resolution").
#   python tools/train.py configs/daclip/daclip-clean-lowres_tiny_6e_synthetic-degradation-64x64.py
_base_ = ['./daclip_tiny_6e_synthetic-degradation-64x64.py']
degradation_classes = ('denoise_25', 'dehaze', 'derain', 'deblur',
                       'delowlight', 'jpeg', 'lowres', 'clean')
# light to heavy of NUN's low-resolution levels, in one range
lowres_params = dict(
    lowres=dict(scale=(1.5, 4.0), blur_sigma=(0.2, 3.0), noise=(0.5, 18.0),
                jpeg=(30, 95)))
model = dict(classes=degradation_classes)
train_dataloader = dict(
    dataset=dict(
        num_samples=9600,  # 1,200 per class, as the six-word config
        degradations=degradation_classes,
        degradation_params=lowres_params))
val_dataloader = dict(
    batch_size=32,
    dataset=dict(
        num_samples=800,  # 100 per class, held-out test split
        degradations=degradation_classes,
        degradation_params=lowres_params))
test_dataloader = val_dataloader
