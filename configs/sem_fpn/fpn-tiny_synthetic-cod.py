# A plain encoder-decoder baseline for RUN-tiny: the same ResNet-18 width-16
# encoder, data, augmentation, mask losses (structure loss + UAL), optimiser
# and 1,400-iteration schedule as configs/run/run-tiny_synthetic-cod.py, with
# the unfolding backbone replaced by an FPN decoder of similar size
# (3,738,193 parameters against RUN-tiny's 3,901,087). The comparison is in
# configs/run/README.md.
_base_ = ['../run/run-tiny_synthetic-cod.py']
model = dict(
    backbone=dict(
        _delete_=True, type='FPNMaskDecoder', channels=192,
        num_fuse_convs=2),
    # one state: the decoder's mask; no edge branch to supervise
    stage_loss_weights=(1, ),
    edge_loss=None,
    edge_loss_weights=(0, ),
    reconstruction_loss_weights=(0, ))
