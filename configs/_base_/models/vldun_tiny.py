# VL-DUN-tiny: the default VL-DUN (vldun.py: 8 AMGDM + MDPMM stages over 4
# levels, dual-prior cross-attention, Bi-Mamba Phi^T, frequency-split
# proximal, Rec. + Seg. Heads) at small widths, guided by a tiny random-init
# CLIP dual prior on 64 x 64 inputs, for the embedded phantoms (PhantomCT /
# PhantomMRI, radial / Cartesian k-space patterns, 4 classes).
# 5,207,019 parameters, 1,818,728 of them trained (the CLIP dual prior,
# 3,388,291, is frozen).
_base_ = ['./vldun.py']
tiny_clip = dict(
    embed_dim=64,
    vision_cfg=dict(image_size=64, layers=2, width=64, patch_size=8,
                    head_width=32),
    text_cfg=dict(context_length=16, width=64, heads=2, layers=2))
model = dict(
    prior=dict(
        clip_model=dict(tiny_clip, _delete_=True),
        pretrained=None,
        input_size=64,
        modality_classes=('PhantomCT', 'PhantomMRI'),
        degradation_classes=('radial', 'cartesian')),
    backbone=dict(
        dim=16, num_blocks=(1, 1, 1, 1), num_refinement_blocks=1,
        heads=(1, 1, 2, 2), prior_dim=64, tokens_per_prior=2,
        mamba_cfg=dict(d_state=8, expand=2),
        # start from the identity: restored = zero-filled input
        zero_init_output=True),
    seg_head=dict(num_classes=4, channels=32),
    return_stages=True)
