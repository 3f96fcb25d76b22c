# Step 1 of vldun-dc_tiny_0.6k_synthetic-phantom-real-slices-64x64.py: the
# tiny CLIP dual prior of clip-dual-prior_tiny_0.5k_synthetic-phantom-64x64
# .py (500 iterations of AdamW 1e-4, no validation) tuned on its training
# data, the phantoms plus crops of the real slices pydicom and nibabel ship
# (held out: CT_small.dcm, MR_small.dcm). Classes: modality CT / MRI (the
# samples' ``modality``, not the dataset name) and k-space pattern radial /
# Cartesian, drawn at random for the real crops so that the pattern cannot
# be read off the modality.
_base_ = ['./clip-dual-prior_tiny_0.5k_synthetic-phantom-64x64.py']

model = dict(
    modality_key='modality',
    prior=dict(modality_classes=('CT', 'MRI')),
    backbone=dict(data_consistency=True, consistency_box=(0.0, 1.0)))

img_size = 64
undersampling = dict(acceleration=4.0, center_fraction=0.08)
phantom_pipeline = [
    dict(type='PairedRandomFlipRot', include_identity=True,
         keys=('gt_img', 'gt_seg_map')),
    dict(type='KSpaceUndersample', modality='auto', **undersampling),
    dict(type='PackMedicalInputs'),
]
real_slice_pipeline = [
    dict(type='PairedRandomFlipRot', include_identity=True,
         keys=('gt_img', )),
    dict(type='KSpaceUndersample', modality='auto', random_pattern=True,
         **undersampling),
    dict(type='PackMedicalInputs'),
]
train_dataloader = dict(
    dataset=dict(
        type='ConcatDataset',
        _delete_=True,
        datasets=[
            dict(type='SyntheticPhantomDataset', num_samples=2000,
                 img_size=img_size, modalities=('CT', 'MRI'), seed=0,
                 split='train', pipeline=phantom_pipeline),
            # the prior sees more real crops than the network: recognising
            # them is its whole job here
            dict(type='PackagedRealSliceDataset', num_samples=2000,
                 img_size=img_size, crop_scale=(0.25, 1.0),
                 pipeline=real_slice_pipeline),
        ]))
