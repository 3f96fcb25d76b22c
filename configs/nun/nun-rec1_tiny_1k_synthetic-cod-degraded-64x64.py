# nun_tiny_1k_synthetic-cod-degraded-64x64.py with the restoration term at weight 1 instead of
# 10 (the paper gives no weight): the masks end within 0.008 Sa per test
# split, the restorations 0.7 dB lower (configs/nun/README.md).
_base_ = ['./nun_tiny_1k_synthetic-cod-degraded-64x64.py']
model = dict(
    restoration_loss=dict(type='MSELoss', loss_weight=1.0,
                          loss_name='loss_restoration'))
