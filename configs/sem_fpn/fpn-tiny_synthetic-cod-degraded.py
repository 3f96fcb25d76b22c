# The FPN baseline trained from random weights on the degraded SyntheticCOD
# mix alone (low light, haze, low resolution or their combination, any
# level), without the clean warm-up of run-tiny_synthetic-cod-degraded.py:
# the measured collapse to an image-independent map (configs/run/README.md).
_base_ = ['./fpn-tiny_synthetic-cod.py']
train_dataloader = dict(
    dataset=dict(
        degradation=dict(kind=('lowlight', 'haze', 'lowres', 'combined'),
                         level=('light', 'medium', 'heavy'))))
