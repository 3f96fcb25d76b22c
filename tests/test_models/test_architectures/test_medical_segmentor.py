"""MedicalSegmentor: mmseg's U-Net + VL-DUN's Seg. Head on phantom slices,
trained and scored like the joint model."""
import pytest
import torch

from dunseg.registry import METRICS, MODELS
from dunseg.utils import register_all_modules

from .test_joint_restorer_segmentor import phantom_batch, tiny_model


def tiny_unet(base_channels=4, **kwargs):
    register_all_modules()
    cfg = dict(
        type='MedicalSegmentor',
        backbone=dict(type='mmseg.UNet', in_channels=1,
                      base_channels=base_channels, num_stages=3,
                      strides=(1, 1, 1), enc_num_convs=(2, 2, 2),
                      dec_num_convs=(2, 2), downsamples=(True, True),
                      enc_dilations=(1, 1, 1), dec_dilations=(1, 1),
                      upsample_cfg=dict(type='mmseg.InterpConv')),
        seg_head=dict(type='VLDUNSegHead', num_classes=4, channels=8))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_loss_backward_and_predictions_scored_by_the_medical_metric():
    torch.manual_seed(0)
    model = tiny_unet()
    assert model.seg_head.in_channels == 4  # the U-Net's base_channels
    batch = phantom_batch()
    losses = model(**model.data_preprocessor(batch, True), mode='loss')
    # the joint model's segmentation losses, same names
    assert set(losses) == {'loss_seg_ce', 'loss_seg_dice'}
    sum(losses.values()).backward()
    assert all(p.grad is not None for p in model.backbone.parameters())
    assert model.seg_head.layers[0].weight.grad is not None

    model.eval()
    samples = model(**model.data_preprocessor(batch, False), mode='predict')
    assert samples[0].pred_mask.data.shape == (1, 32, 32)
    assert samples[0].pred_mask.data.dtype == torch.long
    assert samples[0].pred_score.data.shape == (4, 32, 32)
    # segmentation only: nothing for the restoration scores
    assert 'pred_image' not in samples[0]
    metric = METRICS.build(dict(type='MedicalSegMetric'))
    metric.process(batch, [s.to_dict() for s in samples])
    scores = metric.compute_metrics(metric.results)
    assert 0 <= scores['Dice'] <= 1 and 'PSNR' not in scores


def test_same_segmentation_loss_as_the_joint_model():
    """Same logits, same targets: the same loss values (shared code)."""
    torch.manual_seed(0)
    data = tiny_unet().data_preprocessor(phantom_batch(), True)
    logits = torch.randn(2, 4, 32, 32)
    spaces = dict(PhantomCT=[0, 1, 2, 3], PhantomMRI=[0, 1, 2, 3])
    for label_spaces in (None, spaces):
        seg = tiny_unet(label_spaces=label_spaces)
        joint = tiny_model(prior=False, backbone=dict(use_prior=False),
                           label_spaces=label_spaces)
        ours = seg.seg_loss(logits, data['data_samples'])
        theirs = joint.seg_loss(logits, data['data_samples'])
        assert ours.keys() == theirs.keys()
        for key in ours:  # one shared function on the same tensors: exact
            assert torch.equal(ours[key], theirs[key])


def test_head_width_must_be_given_without_base_channels():
    with pytest.raises(ValueError, match='seg_head.in_channels'):
        tiny_unet(backbone=dict(type='VLDUN', dim=8, use_prior=False))
