# RPCANet+ whose six stages are conditioned on a CLIP degradation prior
# (PriorUnfoldingSegmentor + PriorModulatedRPCA, docs/components.md): a
# tiny CLIPDegradationPrior (VLU-Net's frozen CLIP + adapters) reads each
# grey frame (as R = G = B) and its degradation vector d modulates the image
# every stage reads, D <- sigma_k(d) * D + mu_k(d), starting as the identity
# (so the untrained model computes what the plain RPCANet+ computes).
# Data, loss and schedule: the baseline
# rpcanet-plus_k6b4_0.5k_synthetic-sirst-degraded-128x128.py.
#
# The prior: the CLIP adapters of VLU-Net-tiny's step 1, tuned on RGB crops
# of the embedded restoration data whose classes include the noise levels
# and blur added here (configs/vlunet); without prior_checkpoint the frozen
# tiny CLIP is random. Test frames (128 x 128) are resized to CLIP's 64,
# which changes their noise statistics; training crops are 64 x 64.
#   python tools/train.py configs/vlunet/clip-adapter_tiny_12e_synthetic-degradation-64x64.py \
#       --work-dir work_dirs/clip-adapter_tiny
#   python tools/train.py configs/composition/rpcanet-plus-clip-prior_k6b4_0.5k_synthetic-sirst-degraded-128x128.py \
#       --cfg-options model.prior_checkpoint=$(ls work_dirs/clip-adapter_tiny/best_accuracy_*.pth)
_base_ = ['./rpcanet-plus_k6b4_0.5k_synthetic-sirst-degraded-128x128.py']
img_size = 64
# the tiny CLIP of configs/vlunet/clip-adapter_tiny_12e_synthetic-degradation-64x64.py
tiny_clip = dict(
    embed_dim=64,
    vision_cfg=dict(image_size=img_size, layers=2, width=64, patch_size=8,
                    head_width=32),
    text_cfg=dict(context_length=16, width=64, heads=2, layers=2))
model = dict(
    type='PriorUnfoldingSegmentor',
    backbone=dict(
        _delete_=True,
        type='PriorModulatedRPCA',
        unfolding=dict(
            type='RPCANetPlus', num_stages=6, channels=32,
            bottleneck_channels=4, noise_layers=6, se_ratio=16,
            carry_noise_across_stages=False,
            # the baseline's init (configs/rpcanet/README.md)
            init_cfg=dict(type='PyTorchDefault', layer='Conv2d')),
        prior_dim=64),
    prior=dict(
        type='CLIPDegradationPrior', clip_model=tiny_clip, pretrained=None,
        input_size=img_size, adapter_act='leaky_relu',
        prompts=('image with noise', 'image with many noise',
                 'image with large amount of noise', 'image with haze',
                 'image with rain', 'image with blur',
                 'image with low light')),
    prior_checkpoint=None)
