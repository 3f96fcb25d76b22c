# Upper bound for VL-DUN's segmentation comparison: the U-Net of
# unet_tiny_0.6k_synthetic-phantom-64x64.py (same model, loss, schedule, metric and test
# slices) trained and tested on *fully sampled* phantoms, so its input is the
# clean slice. The gap between its Dice and the Dice of the same U-Net on
# the undersampled slices is what the k-space undersampling costs
# segmentation, the most any restoration (joint or sequential) can win back
# (configs/vldun/README.md).
# A Cartesian mask with acceleration 1 samples every column: the
# zero-filled image equals the clean one for either modality, so the
# pattern is forced to Cartesian for CT slices too (the U-Net never reads
# it).
#   python tools/train.py configs/unet/unet_tiny_0.6k_synthetic-phantom-fullysampled-64x64.py
_base_ = ['./unet_tiny_0.6k_synthetic-phantom-64x64.py']
fully_sampled = dict(type='KSpaceUndersample', modality='MRI',
                     acceleration=1.0, center_fraction=0.0, seed=0)
train_pipeline = [
    dict(type='PairedRandomFlipRot', include_identity=True,
         keys=('gt_img', 'gt_seg_map')),
    fully_sampled,
    dict(type='PackMedicalInputs'),
]
test_pipeline = [fully_sampled, dict(type='PackMedicalInputs')]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
