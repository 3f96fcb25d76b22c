# A plain encoder-decoder baseline for RUN-tiny: the same ResNet-18 width-16
# encoder, data, augmentation, mask losses (structure loss + UAL), optimiser
# and 1,400-iteration schedule as configs/run/run_tiny_1.4k_synthetic-cod-64x64.py, with
# the unfolding backbone replaced by an FPN decoder of similar size
# (3,738,193 parameters against RUN-tiny's 3,901,087). The comparison is in
# configs/run/README.md.
#
# Built from the _base_ files RUN-tiny uses (RUN's model config with the
# backbone replaced, the 64x64 SyntheticCOD data, the 1,400-iteration
# schedule) rather than from the RUN-tiny config itself.
_base_ = [
    '../_base_/models/run.py', '../_base_/datasets/synthetic_cod_64x64.py',
    '../_base_/schedules/schedule_1.4k_adam_cosine.py'
]
model = dict(
    # RUN-tiny's encoder and UAL ramp
    encoder=dict(type='ResNetEncoder', depth=18, base_channels=16,
                 pretrained=None),
    uncertainty_loss=dict(ramp_iters=250),
    backbone=dict(
        _delete_=True, type='FPNMaskDecoder', channels=192,
        num_fuse_convs=2),
    # one state: the decoder's mask; no edge branch to supervise
    stage_loss_weights=(1, ),
    edge_loss=None,
    edge_loss_weights=(0, ),
    reconstruction_loss_weights=(0, ))
randomness = dict(seed=0)
