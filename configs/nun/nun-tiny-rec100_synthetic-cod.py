# nun-tiny_synthetic-cod.py with the restoration term at weight 100 instead
# of 10: does DeRUN's fidelity ceiling (clean scenes come out at ~22 dB, so
# low-resolution scenes at 24 dB come out worse) give way when restoration
# weighs ten times more, and what does it cost the masks?
# (configs/nun/README.md).
_base_ = ['./nun-tiny_synthetic-cod.py']
model = dict(
    restoration_loss=dict(type='MSELoss', loss_weight=100.0,
                          loss_name='loss_restoration'))
