# VLU-Net (CVPR 2025), 5-task model: 8 unfolding stages over 4 levels
# (Restormer proximal blocks {4, 6, 6, 8} + 4 refinement), degradation key
# databases over de_dim = 7 types, guided by a frozen CLIP ViT-B-32 with a
# 3-layer MLP adapter. 35,353,028 parameters without CLIP.
#
# No weights are downloaded: set `model.prior.pretrained` to a local
# open_clip ViT-B-32 file (laion2b_s34b_b79k in the paper) and
# `model.prior.adapter_pretrained` to the released clip_tuned.pth, or load a
# converted full checkpoint (tools/model_converters/vlunet2dunseg.py).
degradation_classes = ('denoise_15', 'denoise_25', 'denoise_50', 'dehaze',
                       'derain', 'deblur', 'delowlight')
degradation_prompts = ('image with noise', 'image with many noise',
                       'image with large amount of noise', 'image with haze',
                       'image with rain', 'image with blur',
                       'image with low light')
model = dict(
    type='Restorer',
    data_preprocessor=dict(type='DunSegDataPreprocessor', in_channels=3),
    backbone=dict(
        type='VLUNet', de_dim=7, in_channels=3, out_channels=3, dim=48,
        num_blocks=(4, 6, 6, 8), num_refinement_blocks=4, heads=(1, 2, 4, 8),
        ffn_expansion_factor=2.66, bias=False, layer_norm_type='WithBias',
        prior_dim=512,
        # False = the official network (the y stream reuses x's level-1
        # downsampler, as the released weights were trained); True is the
        # paper's separate y path, a departure for configs that say so
        separate_y_downsampler=False),
    prior=dict(
        type='CLIPDegradationPrior', clip_model='ViT-B-32', pretrained=None,
        adapter_pretrained=None,
        # GELU as in net/clip.py (the VLU-Net model code); the notebook that
        # trained clip_tuned.pth used LeakyReLU (configs/vlunet/README.md)
        adapter_act='gelu',
        prompts=degradation_prompts),
    prior_classes=degradation_classes,
    loss=dict(type='L1Loss'))
