# NUN-tiny trained with all of RUN-tiny's mask losses: a control for the
# comparison with RUN-tiny, not the NUN paper's loss. On top of the paper's
# L_basic + ε L_csc it adds what run-tiny_synthetic-cod.py trains with:
# the structure loss on the initial mask M_0 (weight 1/16), Dice on the edge
# maps of stages 2, 3, 4 (RUN's stages 3, 2, 1: 1/8, 1/4, 1/2) and the
# uncertainty-aware loss on the final mask (weight 2, ramped over 250
# iterations). The network, data and schedule are nun-tiny_synthetic-cod.py's,
# so NUN-tiny and RUN-tiny then differ only in the network (results in
# configs/nun/README.md).
_base_ = ['./nun-tiny-ual_synthetic-cod.py']
model = dict(
    prior_loss_weight=1 / 16,
    edge_loss=dict(type='DiceLoss', smooth=1.0, exponent=2.0),
    edge_loss_weights=(0, 1 / 8, 1 / 4, 1 / 2))
