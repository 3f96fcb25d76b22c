# RUN-tiny trained on the degraded SyntheticCOD images that NUN-tiny trains
# on (low light, haze, low resolution or their combination, any level): the
# baseline of NUN's central claim, with the same encoder, data, schedule and
# test splits as configs/nun/nun-tiny_synthetic-cod.py.
_base_ = ['./run-tiny_synthetic-cod.py']
train_dataloader = dict(
    dataset=dict(
        degradation=dict(kind=('lowlight', 'haze', 'lowres', 'combined'),
                         level=('light', 'medium', 'heavy'))))
