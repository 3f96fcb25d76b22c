# The FPN baseline trained from random weights on the degraded SyntheticCOD
# mix alone (low light, haze, low resolution or their combination, any
# level), without the clean warm-up of run_tiny_1k_synthetic-cod-degraded-64x64.py:
# the measured collapse to an image-independent map (configs/run/README.md).
_base_ = ['./fpn_tiny_1.4k_synthetic-cod-64x64.py']
train_dataloader = dict(
    dataset=dict(
        degradation=dict(kind=('lowlight', 'haze', 'lowres', 'combined'),
                         level=('light', 'medium', 'heavy'))))
