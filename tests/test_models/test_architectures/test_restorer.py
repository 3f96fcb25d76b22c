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
CLASSES = ('derain', 'dehaze', 'delowlight')
PROMPTS = ('image with rain', 'image with haze', 'image with low light')


def tiny_restorer(**kwargs):
    cfg = dict(
        type='Restorer',
        backbone=dict(type='VLUNet', de_dim=3, dim=8,
                      num_blocks=(1, 1, 1, 1), num_refinement_blocks=1,
                      heads=(1, 1, 1, 1), prior_dim=16, key_spatial_base=16,
                      prompt_dim_base=2),
        prior=dict(type='CLIPDegradationPrior', clip_model=TINY_CLIP,
                   input_size=32, prompts=PROMPTS),
        prior_classes=CLASSES)
    cfg.update(kwargs)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def batch(n=2, size=(32, 32), seed=0):
    generator = torch.Generator().manual_seed(seed)
    clean = torch.rand(n, 3, *size, generator=generator)
    degraded = (clean + 0.2 * torch.rand(n, 3, *size, generator=generator))
    samples = []
    for i in range(n):
        sample = DunSegDataSample(metainfo=dict(img_shape=size))
        sample.gt_image = PixelData(data=clean[i])
        samples.append(sample)
    return degraded.clamp(0, 1), samples


def test_loss_trains_backbone_not_frozen_clip():
    model = tiny_restorer()
    model.train()
    inputs, samples = batch()
    losses = model.loss(inputs, samples)
    assert set(losses) == {'loss_l1'}
    losses['loss_l1'].backward()
    assert model.backbone.stages[0].gradient_descent.r.grad is not None
    clip_grads = [p.grad for p in model.prior.clip.parameters()]
    assert all(g is None for g in clip_grads)
    assert not any(p.requires_grad for p in model.prior.parameters())


@pytest.mark.slow
def test_a_few_steps_reduce_the_l1_loss():
    model = tiny_restorer()
    model.train()
    inputs, samples = batch(n=4)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=2e-3)
    values = []
    for _ in range(15):
        optimizer.zero_grad()
        loss = model.loss(inputs, samples)['loss_l1']
        loss.backward()
        optimizer.step()
        values.append(loss.item())
    assert values[-1] < 0.8 * values[0]


@pytest.mark.slow
def test_predict_pads_odd_sizes_and_names_the_degradation():
    model = tiny_restorer()
    inputs, samples = batch(n=2, size=(30, 27))
    results = model.predict(inputs, samples)
    for result in results:
        assert result.pred_image.shape == (30, 27)
        image = result.pred_image.data
        assert image.min() >= 0 and image.max() <= 1
        assert result.metainfo['pred_degradation'] in CLASSES
        assert result.pred_scores.sum().item() == pytest.approx(1, abs=1e-5)
        assert int(result.pred_label) == int(result.pred_scores.argmax())
        assert torch.equal(result.input_image.data, inputs[0] if
                           result is results[0] else inputs[1])
    assert model(inputs[..., :24, :24], mode='tensor').shape == (2, 3, 24, 24)


@pytest.mark.slow
def test_stage_outputs_as_feature_energy_or_readout_images():
    model = tiny_restorer(return_stages=True)
    inputs, samples = batch(n=1, size=(32, 32))
    (result, ) = model.predict(inputs, samples)
    energy = result.stage_states['feature_energy']
    assert energy.shape == (8, 1, 32, 32)
    assert energy.amax(dim=(1, 2, 3)).allclose(torch.ones(8))

    model = tiny_restorer(return_stages=True, stage_loss_weight=0.5)
    model.train()
    losses = model.loss(*batch(n=2))
    assert set(losses) == {'loss_l1', 'loss_stages'}
    losses['loss_stages'].backward()
    assert all(r.conv.weight.grad is not None for r in model.stage_readouts)
    model.eval()
    (result, ) = model.predict(inputs, batch(n=1)[1])
    assert result.stage_states['image'].shape == (8, 3, 32, 32)


def test_no_prior_variant():
    model = tiny_restorer(
        prior=None, prior_classes=None,
        backbone=dict(type='VLUNet', de_dim=3, dim=8, num_blocks=(1, 1, 1, 1),
                      num_refinement_blocks=1, heads=(1, 1, 1, 1),
                      use_prior=False, key_spatial_base=16,
                      prompt_dim_base=2))
    inputs, samples = batch()
    assert 'pred_degradation' not in model.predict(inputs, samples)[0]
    assert torch.isfinite(model.loss(inputs, batch()[1])['loss_l1'])


def test_mismatched_prior_dim_is_reported():
    with pytest.raises(ValueError, match='prior_dim=16'):
        tiny_restorer(backbone=dict(
            type='VLUNet', de_dim=3, dim=8, num_blocks=(1, 1, 1, 1),
            num_refinement_blocks=1, heads=(1, 1, 1, 1), prior_dim=32,
            key_spatial_base=16, prompt_dim_base=2))


def test_missing_clean_image_is_reported():
    model = tiny_restorer()
    inputs, _ = batch(n=1)
    sample = DunSegDataSample(metainfo=dict(img_path='x.png'))
    with pytest.raises(ValueError, match='x.png has no gt_image'):
        model.loss(inputs, [sample])


def test_prior_checkpoint_loads_the_tuned_prior(tmp_path):
    source = tiny_restorer()
    with torch.no_grad():
        for p in source.prior.parameters():
            p.add_(torch.randn_like(p))
    path = str(tmp_path / 'classifier.pth')
    torch.save(dict(state_dict={
        f'prior.{k}': v for k, v in source.prior.state_dict().items()}), path)
    model = tiny_restorer(prior_checkpoint=path)
    for (name, a), b in zip(model.prior.state_dict().items(),
                            source.prior.state_dict().values()):
        assert torch.equal(a, b), name
    torch.save(dict(state_dict={'backbone.x': torch.zeros(1)}), path)
    with pytest.raises(KeyError, match='no "prior'):
        tiny_restorer(prior_checkpoint=path)
    with pytest.raises(FileNotFoundError, match='does not exist'):
        tiny_restorer(prior_checkpoint=str(tmp_path / 'absent.pth'))
