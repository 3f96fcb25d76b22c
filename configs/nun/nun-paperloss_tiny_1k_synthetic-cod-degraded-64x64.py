# NUN-tiny with the NUN paper's loss only: L_basic (structure loss on each
# stage's mask, ||X_k - X||^2 at weight 1, stage weights 1/2^(K-k)) +
# 0.1 L_csc, without the three RUN mask losses and the restoration weight 10
# of nun_tiny_1k_synthetic-cod-degraded-64x64.py. Same network, data and schedule. With it the
# maps stay unconfident and NUN-tiny loses to RUN-tiny (configs/nun/README.md).
_base_ = ['./nun_tiny_1k_synthetic-cod-degraded-64x64.py']
model = dict(
    restoration_loss=dict(type='MSELoss', loss_weight=1.0,
                          loss_name='loss_restoration'),
    uncertainty_loss=None,
    edge_loss=None,
    edge_loss_weights=None,
    prior_loss_weight=0.0)
