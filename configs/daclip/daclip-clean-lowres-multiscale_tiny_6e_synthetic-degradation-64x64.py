# The eight-word embedded DA-CLIP of
# daclip-clean-lowres_tiny_6e_synthetic-degradation-64x64.py (with
# 'low-resolution' and 'clean') trained on multi-scale crops: 64 to 512
# source pixels, degraded at their own size, then resized to the 64 px CLIP
# input as the prior resizes a full-size photograph (see
# daclip-multiscale_tiny_6e_synthetic-degradation-64x64.py). Validation crops
# are the eight-word config's.
#   python tools/train.py configs/daclip/daclip-clean-lowres-multiscale_tiny_6e_synthetic-degradation-64x64.py
_base_ = ['./daclip-clean-lowres_tiny_6e_synthetic-degradation-64x64.py']
train_dataloader = dict(dataset=dict(crop_sides=(64, 512)))
