# RPCANet+ (paper config, b = 4) on the embedded SyntheticSIRST frames with
# added noise (sigma 15 or 25 on the 0-255 scale) or blur, one drawn per
# frame (DegradeObservation: the clean frame is dropped, the detector sees
# the degraded one); the test split's degradations are fixed per frame
# (seed 0). The baseline of
# rpcanet-plus-clip-prior_k6b4_0.5k_synthetic-sirst-degraded-128x128.py;
# everything else is configs/rpcanet/rpcanet-plus_k6b4_0.5k_synthetic-sirst-128x128.py.
#   python tools/train.py configs/composition/rpcanet-plus_k6b4_0.5k_synthetic-sirst-degraded-128x128.py
_base_ = ['../rpcanet/rpcanet-plus_k6b4_0.5k_synthetic-sirst-128x128.py']
degradations = ('denoise_15', 'denoise_25', 'deblur')
meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape',
             'scale_factor', 'flip', 'flip_direction', 'transposed',
             'num_targets', 'scene_type', 'degradation', 'degradation_label')
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='DegradeObservation', degradations=degradations,
             degradation_classes=degradations),
        dict(type='RandomFlip', prob=[0.25, 0.25, 0.25],
             direction=['horizontal', 'vertical', 'diagonal']),
        dict(type='RandomTranspose', prob=0.5),
        dict(type='PackISTDInputs', meta_keys=meta_keys),
    ]))
val_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='DegradeObservation', degradations=degradations,
             degradation_classes=degradations, seed=0),
        dict(type='PackISTDInputs', meta_keys=meta_keys),
    ]))
test_dataloader = val_dataloader
