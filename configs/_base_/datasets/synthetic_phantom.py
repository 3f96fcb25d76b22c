# Embedded medical data, generated on the fly (no files needed): CT-like and
# MR-like phantoms (perturbed Shepp-Logan heads and ellipse torsos) with exact
# label maps: 0 background, 1 organ, 2 wall, 3 lesion. Each slice is degraded
# by its modality's k-space undersampling, VL-DUN's y = F^-1(M . F x): radial
# spokes for CT (sparse view), Cartesian columns for MRI (4x, 8 % centre).
# Training draws a new mask every time; val/test masks are fixed per image
# (seed + a hash of the image id), so every run scores the same inputs.
# Modalities alternate (balanced); dataset_name is PhantomCT / PhantomMRI, so
# MedicalSegMetric reports each and their average.
dataset_type = 'SyntheticPhantomDataset'
img_size = 128
# CT reaches the same sampled fraction (1/4) with the fewest radial spokes
# (about 40 at 128x128); set num_spokes to fix the number of views instead.
undersampling = dict(acceleration=4.0, center_fraction=0.08)

train_pipeline = [
    # geometric augmentation before undersampling: the mask belongs to the
    # final image
    dict(type='PairedRandomFlipRot', include_identity=True,
         keys=('gt_img', 'gt_seg_map')),
    dict(type='KSpaceUndersample', modality='auto', **undersampling),
    dict(type='PackMedicalInputs'),
]
test_pipeline = [
    dict(type='KSpaceUndersample', modality='auto', seed=0, **undersampling),
    dict(type='PackMedicalInputs'),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, num_samples=2000, img_size=img_size,
                 modalities=('CT', 'MRI'), seed=0, split='train',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, num_samples=100, img_size=img_size,
                 modalities=('CT', 'MRI'), seed=0, split='val',
                 pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, num_samples=200, img_size=img_size,
                 modalities=('CT', 'MRI'), seed=0, split='test',
                 pipeline=test_pipeline))

val_evaluator = dict(type='MedicalSegMetric')
test_evaluator = dict(type='MedicalSegMetric', hd95=True)
