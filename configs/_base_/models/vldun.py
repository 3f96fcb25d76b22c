# VL-DUN (arXiv 2601.23103): CLIP dual prior -> Attention-Mamba unfolding
# (8 AMGDM + MDPMM stages over VLU-Net's 4 levels) -> Rec. Head + Seg. Head.
# The paper publishes no widths, K, loss weights or schedule; these are the
# defaults of dunseg/models/unfolding/vldun.py (22,281,176 backbone
# parameters, 27.64 G MACs at 128x128, below VLU-Net's 35,353,028 / 42.03 G
# as the paper states; docs/benchmarks.md).
# CLIP: open_clip ViT-B-32 (the VLU-Net group's choice). No weights are
# downloaded: set `model.prior.pretrained` to a local open_clip ViT-B-32
# file (e.g. laion2b_s34b_b79k) before fine-tuning it with
# configs/vldun/clip-dual-prior_vit-b-32_10e_medical4-256x256.py; None = random init.
clip_pretrained = None
model = dict(
    type='JointRestorerSegmentor',
    data_preprocessor=dict(type='DunSegDataPreprocessor', in_channels=1),
    prior=dict(
        type='CLIPDualPrior',
        clip_model='ViT-B-32',
        pretrained=clip_pretrained,
        modality_classes=('ACDC', 'BraTS2021', 'COVID19CT', 'HCCTACESeg'),
        # the k-space patterns the pipelines label (kspace_pattern)
        degradation_classes=('radial', 'cartesian'),
        # frozen while the unfolding network trains (the paper fine-tunes
        # the prior first)
        trainable=()),
    backbone=dict(
        type='VLDUN',
        in_channels=1,
        dim=48,
        num_blocks=(2, 2, 2, 2),
        num_refinement_blocks=2,
        heads=(1, 2, 4, 8),
        prior_dim=512,
        num_prior_vectors=2,
        tokens_per_prior=4,
        pool_size=2,
        mamba_cfg=dict(d_state=16, expand=2),
        frequency_decoupling=True,
        physical_operator=False,
        use_prior=True),
    seg_head=dict(type='VLDUNSegHead', num_classes=4, channels=64),
    # L = L1 + CE + Dice (weights: the paper gives none)
    rec_loss=dict(type='L1Loss', loss_weight=1.0, loss_name='loss_rec'),
    seg_losses=[
        dict(type='CrossEntropyLoss', loss_weight=1.0,
             loss_name='loss_seg_ce'),
        dict(type='MultiClassDiceLoss', loss_weight=1.0,
             loss_name='loss_seg_dice'),
    ],
    train_prior=False,
    prior_checkpoint=None)
