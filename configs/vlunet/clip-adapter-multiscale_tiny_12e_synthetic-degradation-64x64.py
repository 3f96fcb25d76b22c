# The embedded CLIP adapter tuning of
# clip-adapter_tiny_12e_synthetic-degradation-64x64.py (same seven classes,
# model, schedule and validation crops) on multi-scale training crops: each
# covers 64 to 512 source pixels, is degraded at that size and then resized
# to the 64 px CLIP input with the prior's own antialiased bicubic
# (SyntheticDegradationDataset(crop_sides=...)), as a full-size photograph
# reaches the prior in VLU-Net. For VLU-Net-tiny:
#   --cfg-options model.prior_checkpoint=<this run's best_accuracy_*.pth>
_base_ = ['./clip-adapter_tiny_12e_synthetic-degradation-64x64.py']
train_dataloader = dict(dataset=dict(crop_sides=(64, 512)))
