# The paper's loss (nun-paperloss_tiny_1k_synthetic-cod-degraded-64x64.py) plus RUN's
# uncertainty-aware loss on the final mask (weight 2, ramped over 250
# iterations) and nothing else: which of RUN's mask losses makes the
# difference (results in configs/nun/README.md).
_base_ = ['./nun_tiny_1k_synthetic-cod-degraded-64x64.py']
# nun-paperloss_tiny_1k_synthetic-cod-degraded-64x64.py's changes except the UAL, which stays
# as nun_tiny_1k_synthetic-cod-degraded-64x64.py has it (weight 2, ramped over 250 iterations)
model = dict(
    restoration_loss=dict(type='MSELoss', loss_weight=1.0,
                          loss_name='loss_restoration'),
    edge_loss=None,
    edge_loss_weights=None,
    prior_loss_weight=0.0)
