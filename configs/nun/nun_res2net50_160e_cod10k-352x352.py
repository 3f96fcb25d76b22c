# NUN with a Res2Net-50 (26w x 4s) encoder, one of the paper's backbones.
# Set model.encoder.pretrained to a local res2net50_v1b_26w_4s ImageNet file.
_base_ = ['./nun_r50_160e_cod10k-352x352.py']
model = dict(encoder=dict(_delete_=True, type='Res2NetEncoder',
                          pretrained=None))
