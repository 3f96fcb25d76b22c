"""MMagicProximal: mmagic restoration networks as unfolding proximal modules.

The install-hint and lazy-import tests run everywhere; the others need the
optional mmagic extra and are skipped without it.
"""
import importlib.util
import subprocess
import sys

import pytest
import torch

from dunseg.models.layers.mmagic_proximal import (
    MMagicProximal,
    import_mmagic_models,
)
from dunseg.registry import MODELS

SKIP_REASON = ('optional mmagic extra not installed: pip install --no-deps '
               'mmagic==1.2.0 && pip install -r requirements/mmagic.txt')

TINY_NAFNET = dict(type='NAFNet',
                   mid_channels=8,
                   middle_blk_num=1,
                   enc_blk_nums=[1],
                   dec_blk_nums=[1])
TINY_RESTORMER = dict(type='Restormer',
                      dim=8,
                      num_blocks=[1, 1, 1, 1],
                      num_refinement_blocks=1,
                      heads=[1, 1, 1, 1],
                      ffn_expansion_factor=2)


@pytest.fixture(scope='module')
def mmagic_models():
    if importlib.util.find_spec('mmagic') is None:
        pytest.skip(SKIP_REASON)
    return import_mmagic_models()


def test_missing_mmagic_names_install_commands(monkeypatch):
    # None in sys.modules makes `import mmagic` raise ImportError.
    monkeypatch.setitem(sys.modules, 'mmagic', None)
    with pytest.raises(ImportError) as info:
        MODELS.build(dict(type='MMagicProximal', dim=8, arch=TINY_NAFNET))
    message = str(info.value)
    assert 'pip install --no-deps mmagic==1.2.0' in message
    assert 'pip install -r requirements/mmagic.txt' in message


@pytest.mark.slow
def test_dunseg_models_import_without_mmagic():
    code = ("import sys; sys.modules['mmagic'] = None; "
            'import dunseg.models; '
            "from dunseg.registry import MODELS; "
            "assert MODELS.get('MMagicProximal') is not None; "
            "assert not any(m.startswith('mmagic.') for m in sys.modules)")
    subprocess.run([sys.executable, '-c', code], check=True)


@pytest.mark.parametrize('channels', [8, 16])
@pytest.mark.parametrize('arch', [TINY_NAFNET, TINY_RESTORMER],
                         ids=['NAFNet', 'Restormer'])
def test_wrapper_keeps_feature_shape(mmagic_models, arch, channels):
    torch.manual_seed(0)
    prox = MODELS.build(dict(type='MMagicProximal', dim=channels, arch=arch))
    assert isinstance(prox.net, mmagic_models.get(arch['type']))
    if arch['type'] == 'NAFNet':
        assert prox.net.intro.in_channels == channels
        assert prox.net.ending.out_channels == channels
        assert prox.pad_multiple == 2
    else:
        assert prox.net.patch_embed.proj.in_channels == channels
        assert prox.net.output.out_channels == channels
        assert prox.pad_multiple == 8
    x = torch.randn(2, channels, 16, 16, requires_grad=True)
    y = prox(x)
    assert y.shape == (2, channels, 16, 16)
    y.square().mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    # Sizes the network cannot take as-is (Restormer: not a multiple of 8,
    # too small for its own reflect padding) are padded and cropped back.
    with torch.no_grad():
        assert prox(torch.randn(1, channels, 2,
                                6)).shape == (1, channels, 2, 6)


def test_scoped_type_swinir_and_residual(mmagic_models):
    arch = dict(type='mmagic.SwinIRNet',
                img_size=8,
                embed_dim=8,
                depths=[1],
                num_heads=[1],
                window_size=4,
                mlp_ratio=2)
    prox = MMagicProximal(dim=6, arch=arch, residual=True).eval()
    assert prox.net.conv_first.in_channels == 6
    assert prox.pad_multiple == 4
    x = torch.randn(1, 6, 6, 10)
    with torch.no_grad():
        out = prox(x)
        padded = torch.nn.functional.pad(x, (0, 2, 0, 2), mode='replicate')
        expected = x + prox.net(padded)[:, :, :6, :10]
    assert out.shape == x.shape
    torch.testing.assert_close(out, expected)


def test_config_errors(mmagic_models):
    with pytest.raises(ValueError, match='img_channels'):
        MMagicProximal(dim=8, arch=dict(TINY_NAFNET, img_channels=3))
    with pytest.raises(KeyError, match='NotANet'):
        MMagicProximal(dim=8, arch=dict(type='NotANet'))
    upsampling = MMagicProximal(dim=4,
                                arch=dict(type='SwinIRNet',
                                          img_size=8,
                                          embed_dim=8,
                                          depths=[1],
                                          num_heads=[1],
                                          window_size=4,
                                          upscale=2,
                                          upsampler='pixelshuffledirect'))
    with pytest.raises(ValueError, match='keep'):
        upsampling(torch.randn(1, 4, 8, 8))


def test_vlunet_with_nafnet_proximal(mmagic_models):
    torch.manual_seed(0)
    model = MODELS.build(
        dict(type='VLUNet',
             dim=8,
             num_blocks=(1, 1, 1, 1),
             num_refinement_blocks=1,
             heads=(1, 1, 1, 1),
             use_prior=False,
             key_spatial_base=8,
             prompt_dim_base=2,
             proximal_cfg=dict(type='MMagicProximal', arch=TINY_NAFNET)))
    stage_dims = [stage.denoiser.dim for stage in model.stages]
    assert all(
        isinstance(stage.denoiser, MMagicProximal) for stage in model.stages)
    assert stage_dims == [8, 16, 32, 64, 32, 16, 16, 16]
    inputs = torch.rand(1, 3, 16, 16)
    states = model(inputs)
    assert len(states) == 8
    assert states[-1]['image'].shape == inputs.shape
    states[-1]['image'].abs().mean().backward()
    grads = [stage.denoiser.net.intro.weight.grad for stage in model.stages]
    assert all(g is not None and g.abs().sum() > 0 for g in grads)
