# nun_tiny_1k_synthetic-cod-degraded-64x64.py with the restoration term as -PSNR per image
# (PSNRLoss, a departure from the paper's ||X_k - X||^2). Under MSE a sample's
# pull grows with its error, so the clean and low-resolution scenes, already
# close to their targets, are outweighed by the low-light and haze ones
# (VLU-Net's all-in-one batches showed the same, configs/vlunet/README.md);
# -10 log10 MSE gives every image the same pull per decibel. At weight 0.05 a
# 17 dB sample pulls as hard as under MSELoss at weight 10 (results in
# configs/nun/README.md).
_base_ = ['./nun_tiny_1k_synthetic-cod-degraded-64x64.py']
model = dict(
    restoration_loss=dict(_delete_=True, type='PSNRLoss', loss_weight=0.05,
                          loss_name='loss_restoration'))
