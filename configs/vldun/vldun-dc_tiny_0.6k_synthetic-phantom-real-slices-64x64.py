# VL-DUN-tiny for real slices: vldun_tiny_0.6k_synthetic-phantom-64x64.py
# (model, schedule, phantom val / test) with two departures from the paper
# (configs/vldun/README.md):
# - data consistency: the Rec. Head's image is projected onto the measured
#   k-space samples, alternated with the [0, 1] box
#   (model.backbone.data_consistency / consistency_box), so the network
#   changes only the unmeasured frequencies and an untrained one returns the
#   consistent zero-filled input;
# - training data: the phantoms plus multi-scale crops of real CT / MR
#   slices that pydicom and nibabel ship (PackagedRealSliceDataset; no
#   labels, so their samples train restoration and the prior, not the Seg.
#   Head: seg_labelled=False). pydicom's CT_small.dcm / MR_small.dcm are
#   held out for tools/experiments/vldun_real_slices.py.
# The prior recognises modality (CT / MRI) and k-space pattern; real crops
# get radial or Cartesian masks at random, phantoms their modality's.
# Step 1: clip-dual-prior_tiny_0.5k_synthetic-phantom-real-slices-64x64.py,
# then
#   python tools/train.py configs/vldun/vldun-dc_tiny_0.6k_synthetic-phantom-real-slices-64x64.py \
#       --cfg-options model.prior_checkpoint=work_dirs/clip-dual-prior_tiny_0.5k_synthetic-phantom-real-slices-64x64/iter_500.pth
_base_ = ['./vldun_tiny_0.6k_synthetic-phantom-64x64.py']

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
            # about a quarter of the crops are real slices
            dict(type='PackagedRealSliceDataset', num_samples=700,
                 img_size=img_size, crop_scale=(0.25, 1.0),
                 pipeline=real_slice_pipeline),
        ]))
