# RPCANet+ (= L-RPCANet): K = 6, bottleneck b = 4, total channel 32, SE,
# noise module with 6 layers: 215,916 parameters (35,986 per stage).
model = dict(
    type='UnfoldingSegmentor',
    data_preprocessor=dict(type='DunSegDataPreprocessor', in_channels=1),
    backbone=dict(
        type='RPCANetPlus', num_stages=6, channels=32, bottleneck_channels=4,
        noise_layers=6, se_ratio=16,
        # official code: N is reset to 0 at every stage (paper: carried)
        carry_noise_across_stages=False),
    decode_head=dict(
        type='StateMaskHead', state_key='T',
        loss_decode=dict(type='SoftIoULoss', smooth=1.0)),
    reconstruction_loss=dict(
        type='MSELoss', loss_weight=0.1, loss_name='loss_fidelity'),
    reconstruction_key='D',
    channels_last=True)
