# Classical multiscale patch-contrast (MPCM-style) detector on the synthetic
# test split, same metric as the learned models.
_base_ = './tophat_disk5_notrain_synthetic-sirst-128x128.py'
model = dict(_delete_=True, type='LocalContrastDetector', scales=(3, 5, 7, 9),
             k=8.0)
