# VL-DUN-tiny guided by a DA-CLIP degradation prior tuned on the phantoms
# (daclip_tiny_0.5k_synthetic-phantom-64x64.py) instead of its CLIP dual
# prior: the AMGDM cross-attention reads one DA-CLIP degradation embedding
# per slice (VL-DUN takes a (N, E) prior as one prior vector) where the
# parent reads the modality and degradation vectors. No modality prior, so
# predictions name no modality.
#
# Parent: configs/vldun/vldun_tiny_0.6k_synthetic-phantom-64x64.py (same
# network, heads, losses, data, schedule). Train:
#   python tools/train.py configs/composition/daclip_tiny_0.5k_synthetic-phantom-64x64.py \
#       --work-dir work_dirs/daclip-phantom-tiny
#   python tools/train.py configs/composition/vldun-daclip_tiny_0.6k_synthetic-phantom-64x64.py \
#       --cfg-options model.prior.daclip_pretrained=work_dirs/daclip-phantom-tiny/iter_500.pth
_base_ = ['../vldun/vldun_tiny_0.6k_synthetic-phantom-64x64.py']
model = dict(
    prior=dict(
        _delete_=True,
        type='DACLIPPrior',
        clip_model={{_base_.tiny_clip}},
        pretrained=None,
        daclip_pretrained=None,
        input_size=64,
        # the tuned words: zero-shot logits for the predictions
        prompts=('radial-streaked', 'aliased'),
        trainable=()),
    backbone=dict(num_prior_vectors=1))
