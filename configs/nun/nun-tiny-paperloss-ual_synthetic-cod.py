# The paper's loss (nun-tiny-paperloss_synthetic-cod.py) plus RUN's
# uncertainty-aware loss on the final mask (weight 2, ramped over 250
# iterations) and nothing else: which of RUN's mask losses makes the
# difference (results in configs/nun/README.md).
_base_ = ['./nun-tiny-paperloss_synthetic-cod.py']
model = dict(
    uncertainty_loss=dict(_delete_=True, type='UncertaintyAwareLoss',
                          loss_weight=2.0, ramp_iters=250))
