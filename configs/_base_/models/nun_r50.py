# NUN (He et al., arXiv 2511.18164): ResNet-50 encoder, K = 4 SODUN stages
# with N_k = (4, 3, 3, 2) DeRUN iterations, a frozen DA-CLIP ViT-B-32 prior
# computed once on the input ("VLM@stage1"), selection between DeRUN
# iterates, L_basic + 0.1 L_csc. Widths are not published: 64 channels (the
# RUN width whose MACs match the MACs the NUN paper reports for RUN at
# 352x352).
#
# No weights are downloaded. Set local paths:
#   model.encoder.pretrained           ImageNet ResNet-50 (torchvision
#                                      resnet50-0676ba61.pth or timm's)
#   model.prior.daclip_pretrained      daclip_ViT-B-32.pt (the official file
#                                      or tools/model_converters/daclip2dunseg.py)
# Selector: the paper scores iterates with TOPIQ + Q-Align + MUSIQ (pyiqa,
# weights by hand: configs/nun/nun-iqa_r50_160e_cod10k-352x352.py). This base uses
# dunseg's offline no-reference quality net, which ships with the package.
model = dict(
    type='NUNSegmentor',
    # [0, 1] inputs: restoration works on intensities; the encoder
    # normalises internally (ImageNet mean/std)
    data_preprocessor=dict(type='DunSegDataPreprocessor', in_channels=3),
    encoder=dict(type='ResNetEncoder', depth=50, pretrained=None),
    backbone=dict(
        type='NUN',
        channels=64,
        inner_iterations=(4, 3, 3, 2),
        # a light DeRUN: 12 full-resolution iterations at 352^2 cost
        # 0.4 G MACs each at these widths
        inner_cfg=dict(type='DeRUN', prior_dim=512, operator_channels=8,
                       prox_channels=8, prox_blocks=1, cue_channels=8),
        vss_cfg=dict(type='VSSBlock', d_state=16, expand=2.0, d_conv=3),
        num_vss_blocks=1,
        background_channels=8,
        restored_features='first_restoration'),
    prior=dict(
        type='DACLIPPrior', clip_model='ViT-B-32', pretrained=None,
        daclip_pretrained=None),
    prior_schedule='stage1',
    selector=dict(type='LearnedQualitySelector'),
    mask_loss=dict(type='StructureLoss'),
    restoration_loss=dict(type='MSELoss', loss_name='loss_restoration'),
    consistency_loss=dict(type='CrossStageConsistencyLoss', loss_weight=0.1),
    threshold=0.5)
