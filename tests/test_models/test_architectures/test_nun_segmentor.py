"""NUNSegmentor: prior -> nested unfolding -> selector -> losses."""
import pytest
import torch
from mmengine.structures import PixelData

from dunseg.registry import MODELS
from dunseg.structures import DunSegDataSample
from dunseg.utils import register_all_modules

register_all_modules()
TINY_CLIP = dict(
    embed_dim=16,
    vision_cfg=dict(image_size=32, layers=1, width=32, patch_size=8,
                    head_width=16),
    text_cfg=dict(context_length=8, width=32, heads=2, layers=1))


def _model(prior=None, prior_dim=None, **kwargs):
    cfg = dict(
        type='NUNSegmentor',
        encoder=dict(type='ResNetEncoder', depth=18, base_channels=8),
        backbone=dict(
            type='NUN', channels=16, inner_iterations=(3, 2),
            inner_cfg=dict(type='DeRUN', prior_dim=prior_dim,
                           operator_channels=4, prox_channels=4,
                           prox_blocks=1, cue_channels=4),
            vss_cfg=dict(type='VSSBlock', d_state=4, expand=1.0),
            background_channels=4),
        prior=prior,
        selector=dict(type='OracleSelector'))
    cfg.update(kwargs)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def _batch(degraded=(True, True), size=32):
    torch.manual_seed(1)
    inputs = torch.rand(len(degraded), 3, size, size)
    samples = []
    for is_degraded in degraded:
        sample = DunSegDataSample(metainfo=dict(img_shape=(size, size)))
        sample.gt_mask = PixelData(
            data=(torch.rand(1, size, size) > 0.7).to(torch.uint8))
        if is_degraded:
            sample.gt_image = PixelData(data=torch.rand(3, size, size))
        samples.append(sample)
    return inputs, samples


@pytest.mark.slow
def test_loss_terms_weights_and_gradients():
    model = _model()
    inputs, samples = _batch()
    losses = model.loss(inputs, samples)
    assert set(losses) == {
        'loss_mask_stage1', 'loss_restoration_stage1', 'loss_mask_stage2',
        'loss_restoration_stage2', 'loss_csc'
    }
    # w_k = 1 / 2^(K - k): an untrained DeRUN returns its input, so the
    # restoration loss of both stages is the input's error, weighted 1/2, 1
    error = ((inputs - torch.stack([s.gt_image.data for s in samples]))**2
             ).mean()
    torch.testing.assert_close(losses['loss_restoration_stage1'], error / 2)
    torch.testing.assert_close(losses['loss_restoration_stage2'], error)
    sum(losses.values()).backward()
    backbone = model.backbone
    iteration = backbone.inner[0].iterations[0]
    # (α_X itself has no gradient yet: an untrained RC_D is the identity,
    # so the first residual RC_D(X_0) − X_0 is zero)
    for name, param in [('RC_D', iteration.forward_operator.crc[-1].weight),
                        ('X1', iteration.x1[-1].weight),
                        ('alpha_M', backbone.mask_steps),
                        ('VSS', next(backbone.mask_prox[1].state_space
                                     .parameters()))]:
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_clean_samples_are_their_own_target_and_csc_switch():
    model = _model(consistency_loss=None)
    inputs, samples = _batch(degraded=(True, False))
    clean = model.clean_images(inputs, samples)
    torch.testing.assert_close(clean[1], inputs[1])
    torch.testing.assert_close(clean[0], samples[0].gt_image.data)
    assert 'loss_csc' not in model.loss(inputs, samples)


def test_predict_outputs_and_stage_grid():
    model = _model(return_stages=True).eval()
    inputs, samples = _batch()
    out = model.predict(inputs, samples)[0]
    assert out.pred_score.data.shape == (1, 32, 32)
    assert out.pred_mask.data.dtype == torch.uint8
    assert out.pred_image.data.shape == (3, 32, 32)
    assert out.stage_states['mask'].shape == (3, 1, 32, 32)
    assert out.stage_states['image'].shape == (3, 3, 32, 32)
    assert [it.shape[0] for it in out.derun_iterates] == [3, 2]
    assert [len(s) for s in out.derun_scores] == [3, 2]
    assert len(out.selected_iterates) == 2


@pytest.mark.parametrize('schedule,calls', [('stage1', 1),
                                            ('every_iteration', 5)])
@pytest.mark.slow
def test_daclip_prior_schedules(schedule, calls):
    prior = dict(type='DACLIPPrior', clip_model=TINY_CLIP, input_size=32,
                 prompts=())
    model = _model(prior=prior, prior_dim=16, prior_schedule=schedule)
    seen = []
    model.prior.register_forward_hook(lambda *args: seen.append(1))
    inputs, samples = _batch()
    model.loss(inputs, samples)
    assert len(seen) == calls  # once, or once per DeRUN iteration (3 + 2)
    assert not any(p.requires_grad for p in model.prior.parameters())


def test_settings_are_checked():
    with pytest.raises(ValueError, match='prior_schedule'):
        _model(prior_schedule='sometimes')
    with pytest.raises(ValueError, match='one weight per stage'):
        _model(stage_loss_weights=(1.0, ))


@pytest.mark.slow
def test_channels_last_gives_same_losses_and_masks():
    reference = _model(selector=None)
    fast = _model(selector=None, channels_last=True)
    fast.load_state_dict(reference.state_dict())
    conv_weights = [p for p in fast.parameters() if p.dim() == 4]
    assert conv_weights and all(
        w.is_contiguous(memory_format=torch.channels_last)
        for w in conv_weights)
    inputs, samples = _batch()
    torch.manual_seed(2)  # the same dropout draws for both
    expected = reference.loss(inputs, samples)
    torch.manual_seed(2)
    got = fast.loss(inputs, samples)
    assert set(got) == set(expected)
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-4,
                                   atol=1e-5)
    reference.eval()
    fast.eval()
    torch.testing.assert_close(fast(inputs), reference(inputs), rtol=1e-4,
                               atol=1e-5)


def test_optional_uncertainty_loss_on_the_final_mask():
    model = _model(uncertainty_loss=dict(type='UncertaintyAwareLoss',
                                         ramp=False))
    inputs, samples = _batch()
    torch.manual_seed(2)
    losses = model.loss(inputs, samples)
    torch.manual_seed(2)
    clean = model.clean_images(inputs, samples)
    final_mask = model.extract_states(inputs, reference=clean)[-1]['mask']
    expected = model.uncertainty_loss(final_mask)
    assert losses['loss_ual'] > 0
    torch.testing.assert_close(losses['loss_ual'], expected)
    assert 'loss_ual' not in _model().loss(inputs, samples)


def test_optional_prior_mask_loss():
    inputs, samples = _batch()
    model = _model(prior_loss_weight=0.25)
    torch.manual_seed(2)
    losses = model.loss(inputs, samples)
    torch.manual_seed(2)
    clean = model.clean_images(inputs, samples)
    initial_mask = model.extract_states(inputs, reference=clean)[0]['mask']
    gt_mask = torch.stack([s.gt_mask.data for s in samples]).float()
    torch.testing.assert_close(losses['loss_mask_prior'],
                               0.25 * model.mask_loss(initial_mask, gt_mask))
    losses['loss_mask_prior'].backward()
    prior_grad = model.backbone.prior_module.parameters().__next__().grad
    assert prior_grad is not None and prior_grad.abs().sum() > 0
    assert 'loss_mask_prior' not in _model().loss(inputs, samples)
    with pytest.raises(ValueError, match='prior_loss_weight'):
        _model(prior_loss_weight=-1)


@pytest.mark.parametrize('select_stage_input', [False, True])
def test_selecting_the_stage_input_keeps_an_image_restoration_would_worsen(
        select_stage_input):
    """Clean samples are their own reference, so every DeRUN iterate that
    changes them is worse. Only with ``select_stage_input`` can the
    selector keep the input: then every stage passes Y on unchanged."""
    model = _model(return_stages=True)
    model.backbone.select_stage_input = select_stage_input
    torch.manual_seed(2)
    for derun in model.backbone.inner:
        for iteration in derun.iterations:
            torch.nn.init.normal_(iteration.x1[-1].weight, std=0.1)
    model.eval()
    inputs, samples = _batch(degraded=(False, False))
    out = model.predict(inputs, samples)
    first = 0 if select_stage_input else 1
    for sample, image in zip(out, inputs):
        assert [it.shape[0] for it in sample.derun_iterates] == [
            3 + 1 - first, 2 + 1 - first]
        assert sample.derun_first_iterate == [first, first]
        # keeping the stage input passes the tensor on: exact
        kept = torch.equal(sample.pred_image.data, image)
        assert kept == select_stage_input
        if select_stage_input:
            assert sample.selected_iterates == [0, 0]


def test_a_selector_that_needs_the_degraded_input_is_given_it():
    """Selectors with ``needs_observation`` score each stage's candidates
    beside Y (InputAwareQualitySelector); the others keep the two-argument
    call."""
    from dunseg.models.selectors import BaseSelector

    class PreferClosestToInput(BaseSelector):
        needs_observation = True

        def __init__(self):
            super().__init__()
            self.seen = []

        def score(self, candidates, reference=None, observation=None):
            self.seen.append(observation.clone())
            return -(candidates - observation[:, None]).pow(2).flatten(
                2).mean(-1)

    model = _model(return_stages=True)
    model.backbone.select_stage_input = True
    model.selector = PreferClosestToInput()
    torch.manual_seed(2)
    for derun in model.backbone.inner:
        for iteration in derun.iterations:
            torch.nn.init.normal_(iteration.x1[-1].weight, std=0.1)
    model.eval()
    inputs, samples = _batch()
    out = model.predict(inputs, samples)
    assert len(model.selector.seen) == 2  # one call per stage
    for seen in model.selector.seen:
        torch.testing.assert_close(seen, inputs)
    # closest to Y is Y itself, offered as the stage input
    for sample, image in zip(out, inputs):
        assert sample.selected_iterates == [0, 0]
        assert torch.equal(sample.pred_image.data, image)
