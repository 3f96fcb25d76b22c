# RUN with a Res2Net-50 (v1b, 26w x 4s) encoder, as in the Res2Net groups of
# SINet-V2 / FEDER / NUN, otherwise run_r50_200e_cod10k-384x384.py. The official RUN code
# has a Network_res2net50 class whose Res2Net import is missing, so this is
# our variant, not a released model. Put the official ImageNet weights
# res2net50_v1b_26w_4s-3cf99910.pth (or timm's res2net50d) at the path below.
_base_ = ['./run_r50_200e_cod10k-384x384.py']

model = dict(
    encoder=dict(
        _delete_=True,
        type='Res2NetEncoder',
        depth=50,
        base_width=26,
        scales=4,
        deep_stem=True,
        avg_down=True,
        pretrained='checkpoints/res2net50_v1b_26w_4s-3cf99910.pth'))
