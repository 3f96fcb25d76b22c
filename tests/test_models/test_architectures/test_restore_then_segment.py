"""RestoreThenSegment: a frozen, trained VL-DUN restorer, then a U-Net on
its restorations, scored by the joint model's metric."""
import copy

import pytest
import torch

from dunseg.registry import METRICS, MODELS
from dunseg.utils import register_all_modules

from .test_joint_restorer_segmentor import phantom_batch

TINY_CLIP = dict(
    embed_dim=16,
    vision_cfg=dict(image_size=32, layers=1, width=32, patch_size=16,
                    head_width=16),
    text_cfg=dict(context_length=16, width=32, heads=2, layers=1))


def restorer_cfg(dim=8, seg_head=None):
    return dict(
        type='JointRestorerSegmentor',
        prior=dict(type='CLIPDualPrior', clip_model=TINY_CLIP),
        backbone=dict(type='VLDUN', dim=dim, num_blocks=(1, 1, 1, 1),
                      num_refinement_blocks=1, heads=(1, 1, 1, 1),
                      prior_dim=16, mamba_cfg=dict(d_state=4)),
        seg_head=seg_head, return_stages=True)


def segmenter_cfg():
    return dict(
        type='MedicalSegmentor',
        backbone=dict(type='mmseg.UNet', in_channels=1, base_channels=4,
                      num_stages=3, strides=(1, 1, 1),
                      enc_num_convs=(2, 2, 2), dec_num_convs=(2, 2),
                      downsamples=(True, True), enc_dilations=(1, 1, 1),
                      dec_dilations=(1, 1),
                      upsample_cfg=dict(type='mmseg.InterpConv')),
        seg_head=dict(type='VLDUNSegHead', num_classes=4, channels=8))


@pytest.fixture(scope='module')
def trained_restorer(tmp_path_factory):
    """A 'step 1' restorer with non-default weights, and its checkpoint."""
    register_all_modules()
    torch.manual_seed(0)
    restorer = MODELS.build(restorer_cfg())
    with torch.no_grad():
        # a trained Rec. Head differs from any fresh initialisation
        restorer.backbone.output.weight.normal_(0, 0.05)
    path = str(tmp_path_factory.mktemp('step1') / 'iter_600.pth')
    torch.save(dict(meta=dict(iter=600), state_dict=restorer.state_dict()),
               path)
    return restorer, path


def pipeline(path, **kwargs):
    register_all_modules()
    cfg = dict(type='RestoreThenSegment', restorer=restorer_cfg(),
               restorer_checkpoint=path, segmenter=segmenter_cfg())
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_missing_checkpoint_is_named(tmp_path):
    missing = str(tmp_path / 'no_such_step1.pth')
    with pytest.raises(FileNotFoundError, match='no_such_step1.pth'):
        pipeline(missing)
    with pytest.raises(ValueError, match='needs restorer_checkpoint'):
        pipeline(None)


def test_mismatched_checkpoint_is_refused(tmp_path, trained_restorer):
    register_all_modules()
    # another width: every shape differs
    wider = MODELS.build(restorer_cfg(dim=16))
    path = str(tmp_path / 'wider.pth')
    torch.save(dict(state_dict=wider.state_dict()), path)
    with pytest.raises(ValueError, match=r'wider\.pth.*does not match.*'
                       'of another shape'):
        pipeline(path)
    # the joint model's checkpoint: trained with a segmentation head
    joint = MODELS.build(restorer_cfg(seg_head=dict(
        type='VLDUNSegHead', num_classes=4, channels=8)))
    path = str(tmp_path / 'joint.pth')
    torch.save(dict(state_dict=joint.state_dict()), path)
    with pytest.raises(ValueError, match='seg_head=None'):
        pipeline(path)
    # this model's own checkpoint instead of step 1's
    ok = pipeline(trained_restorer[1])
    path = str(tmp_path / 'step2.pth')
    torch.save(dict(state_dict=ok.state_dict()), path)
    with pytest.raises(ValueError, match='RestoreThenSegment checkpoint'):
        pipeline(path)
    # a restorer that segments makes the pipeline joint
    with pytest.raises(ValueError, match='seg_head=None'):
        pipeline(trained_restorer[1], restorer=restorer_cfg(
            seg_head=dict(type='VLDUNSegHead', num_classes=4)))


def test_restorer_is_loaded_and_stays_frozen(trained_restorer):
    restorer, path = trained_restorer
    torch.manual_seed(1)
    model = pipeline(path)
    model.init_weights()  # as the runner does before training
    reference = restorer.state_dict()
    for key, value in model.restorer.state_dict().items():
        assert torch.equal(value, reference[key]), key
    before = copy.deepcopy(model.restorer.state_dict())

    model.train()
    assert model.segmenter.training and not model.restorer.training
    assert not any(p.requires_grad for p in model.restorer.parameters())
    batch = phantom_batch()
    data = model.data_preprocessor(batch, True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_seg_ce', 'loss_seg_dice'}
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=0.1)
    sum(losses.values()).backward()
    assert all(p.grad is None for p in model.restorer.parameters())
    assert all(p.grad is not None for p in model.segmenter.parameters())
    optimizer.step()
    for key, value in model.restorer.state_dict().items():
        assert torch.equal(value, before[key]), key


@pytest.mark.slow
def test_predictions_hold_restoration_and_segmentation(trained_restorer):
    restorer, path = trained_restorer
    model = pipeline(path).eval()
    batch = phantom_batch()
    data = model.data_preprocessor(batch, False)
    samples = model(**data, mode='predict')
    alone = restorer.eval()(**restorer.data_preprocessor(batch, False),
                            mode='predict')
    # The pipeline and the restorer alone batch and lay out the same slices
    # through different calls, so oneDNN may pick other kernels (another
    # summation order): equal to float32 rounding, not bit for bit.
    for ours, theirs in zip(samples, alone):
        torch.testing.assert_close(ours.pred_image.data,
                                   theirs.pred_image.data,
                                   rtol=1e-5, atol=1e-6)
        # the input is copied, not computed: exact
        assert torch.equal(ours.input_image.data, theirs.input_image.data)
        assert ours.pred_modality == theirs.pred_modality
        assert ours.stage_states['image'].shape == (8, 1, 32, 32)
        assert ours.pred_mask.data.shape == (1, 32, 32)
        assert ours.pred_score.data.shape == (4, 32, 32)
    # the segmenter saw in training what it sees in testing
    restored = torch.stack([s.pred_image.data for s in samples])
    # predict() and restore() reach the restorer by different calls
    torch.testing.assert_close(
        restored, model.restore(data['inputs'], data['data_samples']),
        rtol=1e-5, atol=1e-6)
    assert model(data['inputs'], data['data_samples'],
                 mode='tensor').shape == (2, 4, 32, 32)
    # the joint model's evaluator scores both halves
    metric = METRICS.build(dict(type='MedicalSegMetric'))
    metric.process(batch, [s.to_dict() for s in samples])
    scores = metric.compute_metrics(metric.results)
    assert {'Dice', 'PSNR', 'SSIM', 'input_PSNR'} <= set(scores)

