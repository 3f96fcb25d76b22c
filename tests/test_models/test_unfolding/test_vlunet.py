import pytest
import torch
import torch.nn.functional as F

from dunseg.models.unfolding import VLUNet
from dunseg.models.unfolding.vlunet import DegradationGuidedGDM
from dunseg.registry import MODELS
from dunseg.utils.complexity import count_macs

TINY = dict(
    de_dim=3, dim=8, num_blocks=(1, 1, 1, 1), num_refinement_blocks=1,
    heads=(1, 1, 2, 2), prior_dim=16, key_spatial_base=8, prompt_dim_base=2)


def _tiny(**kwargs):
    torch.manual_seed(0)
    return VLUNet(**dict(TINY, **kwargs))


def _num_params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(scope='module')
def vlunet7():
    torch.manual_seed(0)
    return VLUNet(de_dim=7).eval()


@pytest.mark.slow
def test_official_parameter_counts(vlunet7):
    assert _num_params(vlunet7) == 35_353_028
    assert _num_params(VLUNet(de_dim=5)) == 34_364_852
    # Per-stage D-GDM / PMM split of ANCHORS.md 3.2 (de_dim 7).
    expected = dict(
        encoder_level1=(280_556, 125_116), latent=(1_727_756, 14_370_448),
        decoder_level1=(654_764, 471_484), refinement=(654_764, 471_484))
    for name, (gdm, pmm) in expected.items():
        stage = getattr(vlunet7, name)
        assert _num_params(stage.gradient_descent) == gdm, name
        assert _num_params(stage.denoiser) == pmm, name
    assert vlunet7.decoder_level1.gradient_descent.prompt_param.shape == (
        1, 7, 9, 96, 96)
    assert vlunet7.latent.gradient_descent.prompt_param.shape == (1, 7, 152,
                                                                 24, 24)
    assert list(vlunet7.stage_names) == [
        'encoder_level1', 'encoder_level2', 'encoder_level3', 'latent',
        'decoder_level3', 'decoder_level2', 'decoder_level1', 'refinement'
    ]
    # Without CLIP the 8 Linear(512 -> 7) layers are not built.
    assert _num_params(VLUNet(de_dim=7, use_prior=False)) == \
        35_353_028 - 8 * (512 * 7 + 7)


@pytest.mark.slow
def test_macs_follow_the_official_thop_figure(vlunet7):
    # thop counts convs and linears (42.0 G at 128x128); conv MACs scale
    # with the pixel count, the 8 Linear(512 -> 7) layers do not. Measured
    # at 64x64 to keep the test short: 42,031,611,960 MACs at 128x128.
    linear = 8 * 7 * 513
    macs, params = count_macs(
        vlunet7, torch.rand(1, 3, 64, 64),
        forward=lambda m, x: m(x, torch.randn(1, 512)))
    assert params == 35_353_028
    macs_128 = (macs - linear) * 4 + linear
    assert macs_128 == 42_031_611_960
    assert abs(macs_128 / 42.0e9 - 1) < 0.03


def test_tiny_forward_returns_eight_states_and_image():
    model = _tiny()
    x = torch.rand(2, 3, 32, 32)
    states = model(x, torch.randn(2, 16))
    assert len(states) == 8
    shapes = [tuple(s['x'].shape) for s in states]
    assert shapes == [(2, 8, 32, 32), (2, 16, 16, 16), (2, 32, 8, 8),
                      (2, 64, 4, 4), (2, 32, 8, 8), (2, 16, 16, 16),
                      (2, 16, 32, 32), (2, 16, 32, 32)]
    assert all('image' not in s for s in states[:-1])
    assert states[-1]['image'].shape == x.shape
    # Global residual: image = output conv(x_8) + input.
    torch.testing.assert_close(states[-1]['image'],
                               model.output(states[-1]['x']) + x)


def test_prior_changes_the_output_and_is_checked():
    model = _tiny().eval()
    x = torch.rand(1, 3, 16, 24)
    with torch.no_grad():
        a = model(x, torch.randn(1, 16))[-1]['image']
        b = model(x, torch.randn(1, 16) * 5)[-1]['image']
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError, match='needs the degradation vector'):
        model(x)
    with pytest.raises(ValueError, match='prior_dim'):
        model(x, torch.randn(1, 512))


def test_gdm_equals_the_paper_update_with_the_official_key():
    torch.manual_seed(0)
    gdm = DegradationGuidedGDM(
        dim=8, prompt_dim=3, key_size=6, de_dim=4, prior_dim=10)
    with torch.no_grad():
        gdm.r.fill_(0.7)
    x, y = torch.randn(2, 8, 5, 5), torch.randn(2, 8, 5, 5)
    prior = torch.randn(2, 10)
    # Official: softmax weights times the database, summed over keys, then
    # bilinear resize (align_corners=False).
    w = F.softmax(gdm.linear(prior), dim=1).view(2, 4, 1, 1, 1)
    key = (w * gdm.prompt_param.repeat(2, 1, 1, 1, 1)).sum(1)
    key = F.interpolate(key, (5, 5), mode='bilinear')
    ref = x - 0.7 * gdm.phit(gdm.phi(x, key) - y)
    torch.testing.assert_close(gdm(x, y, prior), ref, atol=1e-5, rtol=1e-5)


@pytest.mark.slow
def test_without_prior_uses_the_mean_key_and_ignores_priors():
    model = _tiny(use_prior=False).eval()
    assert model.encoder_level1.gradient_descent.linear is None
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        out = model(x)[-1]['image']
        same = model(x, torch.randn(2, 16))[-1]['image']
    assert out.shape == x.shape and torch.isfinite(out).all()
    torch.testing.assert_close(out, same)
    gdm = model.encoder_level1.gradient_descent
    key = gdm.degradation_key(None, (8, 8))
    torch.testing.assert_close(key, gdm.prompt_param.mean(1))


@pytest.mark.slow
def test_separate_y_downsampler_flag_selects_the_module():
    x, prior = torch.rand(1, 3, 16, 16), torch.randn(1, 16)
    grads = {}
    outputs = {}
    for flag in (True, False):
        model = _tiny(separate_y_downsampler=flag)
        out = model(x, prior)[-1]['image']
        out.sum().backward()
        grads[flag] = model.down1_2_i.body[0].weight.grad
        outputs[flag] = out.detach()
        # down1_2_i is built either way (identical state dicts).
        assert 'down1_2_i.body.0.weight' in model.state_dict()
    assert grads[True] is not None and grads[True].abs().sum() > 0
    assert grads[False] is None  # the official y stream reuses down1_2
    assert not torch.allclose(outputs[False], outputs[True])


@pytest.mark.slow
def test_gradients_reach_steps_and_key_databases():
    model = _tiny()
    states = model(torch.rand(1, 3, 16, 16), torch.randn(1, 16))
    states[-1]['image'].abs().mean().backward()
    for stage in model.stages:
        gdm = stage.gradient_descent
        assert gdm.r.grad is not None and gdm.r.grad.abs() > 0
        assert gdm.prompt_param.grad.abs().sum() > 0
        assert gdm.linear.weight.grad.abs().sum() > 0


def test_input_size_and_config_errors():
    model = _tiny()
    with pytest.raises(ValueError, match='divisible by 8'):
        model(torch.rand(1, 3, 20, 16), torch.randn(1, 16))
    with pytest.raises(ValueError, match=r'\(N, 3, H, W\)'):
        model(torch.rand(1, 1, 16, 16), torch.randn(1, 16))
    with pytest.raises(ValueError, match='prompt_dim_base'):
        VLUNet(**dict(TINY, prompt_dim_base=None))  # 8 // 10 = 0 channels
    with pytest.raises(ValueError, match='8 configs'):
        VLUNet(**dict(TINY, proximal_cfg=[dict(type='RestormerBlocks')]))


def test_proximal_cfg_builds_registered_modules_with_dim():
    model = MODELS.build(
        dict(
            type='VLUNet',
            **TINY,
            proximal_cfg=dict(
                type='RestormerBlocks', num_blocks=2, num_heads=1)))
    assert len(model.latent.denoiser.blocks) == 2
    assert model.latent.denoiser.blocks[0].attn.qkv.in_channels == 64
    assert model.refinement.denoiser.blocks[0].attn.qkv.in_channels == 16
    out = model(torch.rand(1, 3, 16, 16), torch.randn(1, 16))
    assert out[-1]['image'].shape == (1, 3, 16, 16)


@pytest.mark.slow
def test_zero_init_output_starts_from_the_identity():
    model = _tiny(zero_init_output=True)
    x = torch.rand(2, 3, 32, 32)
    prior = torch.rand(2, model.prior_dim) if model.use_prior else None
    image = model(x, prior)[-1]['image']
    # exact: a zero-initialised output adds exact zeros to the input
    assert torch.equal(image, x)
    assert not torch.equal(_tiny()(x, prior)[-1]['image'], x)


OFFICIAL_WEIGHT_CONFIGS = (
    'configs/vlunet/vlunet_de7_200e_allinone-5task-128x128.py',
    'configs/vlunet/vlunet_de5_200e_allinone-3task-128x128.py',
)


@pytest.mark.slow
@pytest.mark.parametrize('config', OFFICIAL_WEIGHT_CONFIGS)
def test_configs_for_official_weights_build_the_official_network(config):
    """The official network never uses ``down1_2_i``: perturbing it must not
    change the output of a config meant for the released weights."""
    import os.path as osp

    from mmengine.config import Config

    from dunseg.registry import MODELS

    from ...conftest import REPO_ROOT
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    torch.manual_seed(0)
    backbone = MODELS.build(cfg.model.backbone).eval()
    x = torch.rand(1, 3, 32, 32)
    prior = torch.randn(1, cfg.model.backbone.prior_dim)
    with torch.no_grad():
        before = backbone(x, prior)[-1]['image']
        for param in backbone.down1_2_i.parameters():
            param.add_(torch.randn_like(param))
        after = backbone(x, prior)[-1]['image']
    torch.testing.assert_close(after, before, rtol=0, atol=0)
