# The embedded DA-CLIP of daclip_tiny_6e_synthetic-degradation-64x64.py (same
# six words, model, schedule and validation crops) trained on multi-scale
# crops: each training crop covers 64 to 512 source pixels, is degraded at
# that size and then resized to the 64 px CLIP input with the prior's own
# antialiased bicubic (SyntheticDegradationDataset(crop_sides=...)), as a
# full-size photograph reaches the prior. The default config degrades 64 px
# crops directly, and its prior misreads full-size real photographs
# (docs/priors_and_selectors.md, "Priors on full-size real photographs").
#   python tools/train.py configs/daclip/daclip-multiscale_tiny_6e_synthetic-degradation-64x64.py
_base_ = ['./daclip_tiny_6e_synthetic-degradation-64x64.py']
train_dataloader = dict(dataset=dict(crop_sides=(64, 512)))
