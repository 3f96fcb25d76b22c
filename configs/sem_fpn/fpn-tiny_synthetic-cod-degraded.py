# The FPN baseline trained on the degraded SyntheticCOD images that NUN-tiny
# and RUN-tiny-degraded train on (configs/run/run-tiny_synthetic-cod-degraded.py).
_base_ = ['./fpn-tiny_synthetic-cod.py']
train_dataloader = dict(
    dataset=dict(
        degradation=dict(kind=('lowlight', 'haze', 'lowres', 'combined'),
                         level=('light', 'medium', 'heavy'))))
