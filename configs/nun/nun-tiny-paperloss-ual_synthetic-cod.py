# The paper's loss (nun-tiny-paperloss_synthetic-cod.py) plus RUN's
# uncertainty-aware loss on the final mask (weight 2, ramped over 250
# iterations) and nothing else: which of RUN's mask losses makes the
# difference (results in configs/nun/README.md).
_base_ = ['./nun-tiny_synthetic-cod.py']
# nun-tiny-paperloss_synthetic-cod.py's changes except the UAL, which stays
# as nun-tiny_synthetic-cod.py has it (weight 2, ramped over 250 iterations)
model = dict(
    restoration_loss=dict(type='MSELoss', loss_weight=1.0,
                          loss_name='loss_restoration'),
    edge_loss=None,
    edge_loss_weights=None,
    prior_loss_weight=0.0)
