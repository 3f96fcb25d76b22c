# NUN-tiny with RUN's uncertainty-aware loss on the final mask (weight 2, the
# ramp of run-tiny_synthetic-cod.py): not in the NUN paper, a control for
# the comparison with RUN-tiny, which trains with it. Same data and schedule
# as nun-tiny_synthetic-cod.py (results in configs/nun/README.md).
_base_ = ['./nun-tiny_synthetic-cod.py']
model = dict(
    uncertainty_loss=dict(type='UncertaintyAwareLoss', loss_weight=2.0,
                          ramp_iters=250))
