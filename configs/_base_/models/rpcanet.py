# RPCANet (WACV 2024): K = 6 stages, 32 channels, 679,896 parameters.
model = dict(
    type='UnfoldingSegmentor',
    data_preprocessor=dict(type='DunSegDataPreprocessor', in_channels=1),
    backbone=dict(type='RPCANet', num_stages=6, channels=32),
    decode_head=dict(
        type='StateMaskHead', state_key='T',
        loss_decode=dict(type='SoftIoULoss', smooth=1.0)),
    # γ ||D^K - D||^2 with γ = 0.1 (WACV code; the later RPCANet++ code: 0.01)
    reconstruction_loss=dict(
        type='MSELoss', loss_weight=0.1, loss_name='loss_fidelity'),
    reconstruction_key='D',
    channels_last=True)
