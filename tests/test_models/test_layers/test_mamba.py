import pytest
import torch
import torch.nn.functional as F

from dunseg.models.layers import BiMamba, MambaLayer
from dunseg.registry import MODELS
from dunseg.utils.complexity import module_complexity

from .test_selective_scan import recurrence


def mamba_ssm_state_dict_shapes(d_model, d_state=16, d_conv=4, expand=2,
                                bias=False):
    """Keys and shapes of mamba_ssm.modules.mamba_simple.Mamba (mamba-ssm
    2.x), read off its __init__: dt_rank = ceil(d_model / 16)."""
    inner, rank = expand * d_model, -(-d_model // 16)
    shapes = {
        'A_log': (inner, d_state),
        'D': (inner, ),
        'in_proj.weight': (2 * inner, d_model),
        'conv1d.weight': (inner, 1, d_conv),
        'conv1d.bias': (inner, ),
        'x_proj.weight': (rank + 2 * d_state, inner),
        'dt_proj.weight': (inner, rank),
        'dt_proj.bias': (inner, ),
        'out_proj.weight': (d_model, inner),
    }
    if bias:
        shapes.update({
            'in_proj.bias': (2 * inner, ),
            'out_proj.bias': (d_model, )
        })
    return shapes


def vim_v2_extra_shapes(d_model, d_state=16, d_conv=4, expand=2):
    """The backward-branch parameters of Vim's bimamba_type='v2'."""
    inner, rank = expand * d_model, -(-d_model // 16)
    return {
        'A_b_log': (inner, d_state),
        'D_b': (inner, ),
        'conv1d_b.weight': (inner, 1, d_conv),
        'conv1d_b.bias': (inner, ),
        'x_proj_b.weight': (rank + 2 * d_state, inner),
        'dt_proj_b.weight': (inner, rank),
        'dt_proj_b.bias': (inner, ),
    }


def _shapes(module):
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


@pytest.mark.parametrize('d_model,kwargs', [(16, {}), (40, dict(bias=True)),
                                             (24, dict(d_state=8, d_conv=3))])
def test_mamba_state_dict_matches_mamba_ssm(d_model, kwargs):
    layer = MambaLayer(d_model, **kwargs)
    expected = mamba_ssm_state_dict_shapes(d_model, **kwargs)
    assert _shapes(layer) == expected
    layer.load_state_dict(
        {k: torch.randn(s) for k, s in expected.items()}, strict=True)


def test_bimamba_state_dict_matches_vim_v2():
    layer = BiMamba(32)
    expected = {**mamba_ssm_state_dict_shapes(32), **vim_v2_extra_shapes(32)}
    assert _shapes(layer) == expected


def test_mamba_initialisation():
    layer = MambaLayer(32, d_state=16, dt_min=0.002, dt_max=0.05)
    torch.testing.assert_close(torch.exp(layer.A_log),
                               torch.arange(1., 17.).repeat(64, 1))
    assert torch.equal(layer.D, torch.ones(64))
    dt = F.softplus(layer.dt_proj.bias)
    assert dt.min() >= 0.002 * 0.999 and dt.max() <= 0.05 * 1.001
    assert layer.dt_proj.weight.abs().max() <= layer.dt_rank**-0.5
    assert layer.dt_proj.bias._no_reinit


def test_mamba_layer_equals_its_definition_with_the_recurrence():
    torch.manual_seed(0)
    layer = MambaLayer(8, d_state=4)
    x = torch.randn(2, 11, 8)
    with torch.no_grad():
        inner_x, z = layer.in_proj(x).transpose(1, 2).chunk(2, dim=1)
        inner_x = F.silu(
            F.conv1d(inner_x, layer.conv1d.weight, layer.conv1d.bias,
                     padding=3, groups=16)[..., :11])
        dt, B, C = layer.x_proj(inner_x.transpose(1, 2)).split([1, 4, 4], -1)
        dt = (dt @ layer.dt_proj.weight.t()).transpose(1, 2)
        y, _ = recurrence(inner_x, dt, -torch.exp(layer.A_log),
                          B.transpose(1, 2), C.transpose(1, 2), layer.D, z,
                          layer.dt_proj.bias, delta_softplus=True)
        expected = layer.out_proj(y.float().transpose(1, 2))
    torch.testing.assert_close(layer(x), expected, atol=1e-5, rtol=1e-4)


def test_mamba_layer_is_causal():
    torch.manual_seed(0)
    layer = MambaLayer(8)
    x = torch.randn(1, 20, 8, requires_grad=True)
    layer(x)[0, 9].sum().backward()
    assert x.grad[0, 10:].abs().max() == 0
    assert x.grad[0, :10].abs().sum() > 0


def test_mamba_ssm_gives_equal_outputs_for_equal_weights():
    """Runs only where mamba-ssm imports (its CUDA build); its module is run
    through its own reference scan so that it works on CPU too."""
    mamba_simple = pytest.importorskip('mamba_ssm.modules.mamba_simple')
    interface = pytest.importorskip('mamba_ssm.ops.selective_scan_interface')
    torch.manual_seed(0)
    reference = mamba_simple.Mamba(16, use_fast_path=False)
    mamba_simple.selective_scan_fn = interface.selective_scan_ref
    layer = MambaLayer(16, scan_backend='torch')
    layer.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 13, 16)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), reference(x), atol=1e-5,
                                   rtol=1e-4)


def _copy_forward_to_backward(layer):
    with torch.no_grad():
        for forward, backward in (('conv1d', 'conv1d_b'),
                                  ('x_proj', 'x_proj_b'),
                                  ('dt_proj', 'dt_proj_b')):
            getattr(layer, backward).load_state_dict(
                getattr(layer, forward).state_dict())
        layer.A_b_log.copy_(layer.A_log)
        layer.D_b.copy_(layer.D)


def test_bimamba_backward_branch_scans_the_reversed_sequence():
    """With both branches' parameters equal, reversing the input reverses
    the output; with its own parameters it does not."""
    torch.manual_seed(0)
    layer = BiMamba(8)
    x = torch.randn(2, 9, 8)
    with torch.no_grad():
        assert not torch.allclose(layer(x.flip(1)), layer(x).flip(1),
                                  atol=1e-4)
        _copy_forward_to_backward(layer)
        torch.testing.assert_close(layer(x.flip(1)), layer(x).flip(1),
                                   atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize('size', [(1, 1), (5, 3), (4, 7)])
def test_bimamba_on_maps_flatten_orders(size):
    torch.manual_seed(0)
    rows = MODELS.build(dict(type='BiMamba', d_model=8))
    columns = BiMamba(8, flatten_order='column')
    columns.load_state_dict(rows.state_dict())
    x = torch.randn(2, 8, *size, requires_grad=True)
    out = columns(x)
    assert out.shape == x.shape
    # column-major on x = row-major on the transposed map
    torch.testing.assert_close(
        out, rows(x.transpose(2, 3)).transpose(2, 3), atol=1e-5, rtol=1e-4)
    # a map equals its flattened sequence
    sequence = x.flatten(2).transpose(1, 2)
    torch.testing.assert_close(
        rows(x), rows(sequence).transpose(1, 2).reshape_as(x), atol=1e-6,
        rtol=1e-5)
    out.square().mean().backward()
    assert all(p.grad is not None for p in columns.parameters())
    with pytest.raises(ValueError, match='flatten_order'):
        BiMamba(8, flatten_order='diagonal')
    with pytest.raises(ValueError, match=r'expected \(B, C=8, H, W\)'):
        rows(torch.randn(1, 4, 3, 3))


def test_complexity_counts_both_scans():
    layer = BiMamba(8, d_state=4)
    stats = module_complexity(layer, torch.randn(1, 10, 8))
    inner = 16
    # two scans of (1 batch, 16 channels, 10 steps), 4·4 + 3 MACs each step
    assert stats['scan'].macs == 2 * 16 * 10 * 19
    assert stats['scan'].calls == 2
    counted = sum(stats[name].macs for name in (
        'in_proj', 'conv1d', 'conv1d_b', 'x_proj', 'x_proj_b', 'out_proj',
        'scan'))
    dt_projections = 2 * 10 * inner * layer.dt_rank
    assert stats[''].macs == counted + dt_projections


def test_bimamba_learns_to_denoise_a_signal():
    """150 CPU steps: BiMamba between per-position linear maps
    denoises piecewise-constant 1-D signals (it must look along the
    sequence, both ways, to do so)."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(1, 16), BiMamba(16), torch.nn.Linear(16, 1))
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)

    def batch(n=16, length=48):
        levels = torch.randn(n, 6, 1)
        clean = levels.repeat_interleave(length // 6, dim=1)
        return clean, clean + 0.5 * torch.randn_like(clean)

    threads = torch.get_num_threads()
    # tiny tensors: one thread avoids parallel-region overhead, which an
    # oversubscribed CI machine multiplies
    torch.set_num_threads(1)
    try:
        for _ in range(150):
            clean, noisy = batch()
            loss = F.mse_loss(noisy + net(noisy), clean)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    finally:
        torch.set_num_threads(threads)
    clean, noisy = batch(64)
    with torch.no_grad():
        restored_error = F.mse_loss(noisy + net(noisy), clean).item()
    identity_error = F.mse_loss(noisy, clean).item()
    assert restored_error < 0.5 * identity_error
