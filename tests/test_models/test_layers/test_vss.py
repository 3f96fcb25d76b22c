import math

import pytest
import torch
import torch.nn.functional as F

from dunseg.models.layers import CAB, SS2D, VSSBlock
from dunseg.models.layers.selective_scan import selective_scan_macs
from dunseg.registry import MODELS
from dunseg.utils.complexity import module_complexity

from .test_selective_scan import recurrence


def mambair_vssblock_parameters(width, is_light_sr=False, d_state=16,
                                expand=2, d_conv=3):
    """Parameter count of MambaIR's VSSBlock, term by term from the
    definitions in csguoh/MambaIR basicsr/archs/mambair_arch.py."""
    inner = int(expand * width)
    rank = math.ceil(width / 16)
    hidden = width // (6 if is_light_sr else 3)
    squeeze = width // 30
    norms_and_scales = 2 * width + 2 * width + width + width
    ss2d = (2 * inner * width  # in_proj, no bias
            + inner * d_conv**2 + inner  # depthwise conv2d with bias
            + 4 * (rank + 2 * d_state) * inner  # x_proj_weight
            + 4 * inner * rank + 4 * inner  # dt_projs_weight, dt_projs_bias
            + 4 * inner * d_state + 4 * inner  # A_logs, Ds
            + 2 * inner  # out_norm
            + inner * width)  # out_proj, no bias
    cab = (9 * width * hidden + hidden + 9 * hidden * width + width +
           width * squeeze + squeeze + squeeze * width + width)
    return norms_and_scales + ss2d + cab


@pytest.mark.parametrize('width,is_light_sr,expected', [
    (180, False, 503_346),  # MambaIR classic SR / denoising width
    (60, True, 62_412),  # MambaIR lightweight SR width
    (96, False, None),
    (30, False, None),
])
def test_parameter_count_equals_mambair(width, is_light_sr, expected):
    block = VSSBlock(width, is_light_sr=is_light_sr)
    count = sum(p.numel() for p in block.parameters())
    assert count == mambair_vssblock_parameters(width, is_light_sr)
    if expected is not None:
        assert count == expected


def test_state_dict_keys_and_shapes_equal_mambair():
    width, inner, rank, nstate, hidden, squeeze = 64, 128, 4, 16, 21, 2
    expected = {
        'skip_scale': (width, ),
        'skip_scale2': (width, ),
        'ln_1.weight': (width, ),
        'ln_1.bias': (width, ),
        'ln_2.weight': (width, ),
        'ln_2.bias': (width, ),
        'self_attention.x_proj_weight': (4, rank + 2 * nstate, inner),
        'self_attention.dt_projs_weight': (4, inner, rank),
        'self_attention.dt_projs_bias': (4, inner),
        'self_attention.A_logs': (4 * inner, nstate),
        'self_attention.Ds': (4 * inner, ),
        'self_attention.in_proj.weight': (2 * inner, width),
        'self_attention.conv2d.weight': (inner, 1, 3, 3),
        'self_attention.conv2d.bias': (inner, ),
        'self_attention.out_norm.weight': (inner, ),
        'self_attention.out_norm.bias': (inner, ),
        'self_attention.out_proj.weight': (width, inner),
        'conv_blk.cab.0.weight': (hidden, width, 3, 3),
        'conv_blk.cab.0.bias': (hidden, ),
        'conv_blk.cab.2.weight': (width, hidden, 3, 3),
        'conv_blk.cab.2.bias': (width, ),
        'conv_blk.cab.3.attention.1.weight': (squeeze, width, 1, 1),
        'conv_blk.cab.3.attention.1.bias': (squeeze, ),
        'conv_blk.cab.3.attention.3.weight': (width, squeeze, 1, 1),
        'conv_blk.cab.3.attention.3.bias': (width, ),
    }
    block = VSSBlock(width)
    shapes = {k: tuple(v.shape) for k, v in block.state_dict().items()}
    assert shapes == expected
    # a MambaIR-shaped state dict loads strictly
    block.load_state_dict(
        {k: torch.randn(shape) for k, shape in expected.items()}, strict=True)


def test_ss2d_initialisation_is_mamba_s4d_real():
    ss2d = SS2D(32, d_state=8)
    A = -torch.exp(ss2d.A_logs)
    torch.testing.assert_close(A, -torch.arange(1., 9.).repeat(4 * 64, 1))
    assert torch.equal(ss2d.Ds, torch.ones(4 * 64))
    dt = F.softplus(ss2d.dt_projs_bias)
    assert dt.min() >= 1e-3 * 0.999 and dt.max() <= 0.1 * 1.001
    assert ss2d.dt_projs_weight.abs().max() <= ss2d.dt_rank**-0.5


def test_ss2d_equals_four_direction_scans_of_the_recurrence():
    """Cross-scan, per-direction projections and cross-merge, checked with
    the recurrence run separately for each of the four directions."""
    torch.manual_seed(0)
    ss2d = SS2D(8, d_state=4).eval()
    x = torch.randn(2, 5, 3, 8)
    height, width = 5, 3
    with torch.no_grad():
        inner_x, z = ss2d.in_proj(x).chunk(2, dim=-1)
        inner_x = F.silu(ss2d.conv2d(inner_x.permute(0, 3, 1, 2)))
        rows = inner_x.flatten(2)
        cols = inner_x.transpose(2, 3).flatten(2)
        sequences = [rows, cols, rows.flip(-1), cols.flip(-1)]
        merged = 0
        for k, seq in enumerate(sequences):
            proj = torch.einsum('bdl,cd->bcl', seq, ss2d.x_proj_weight[k])
            dt, B, C = proj.split([ss2d.dt_rank, 4, 4], dim=1)
            dt = torch.einsum('brl,dr->bdl', dt, ss2d.dt_projs_weight[k])
            span = slice(k * 16, (k + 1) * 16)
            y, _ = recurrence(seq, dt, -torch.exp(ss2d.A_logs[span]), B, C,
                              ss2d.Ds[span], None, ss2d.dt_projs_bias[k],
                              delta_softplus=True)
            y = y.float()
            if k >= 2:
                y = y.flip(-1)
            if k % 2:  # column-major back to row-major
                y = y.view(2, 16, width, height).transpose(2, 3).flatten(2)
            merged = merged + y
        y = merged.transpose(1, 2).reshape(2, height, width, 16)
        expected = ss2d.out_proj(ss2d.out_norm(y) * F.silu(z))
    torch.testing.assert_close(ss2d(x), expected, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize('size', [(1, 1), (7, 5), (4, 9), (16, 16)])
def test_vssblock_any_size_train_and_eval(size):
    torch.manual_seed(0)
    block = MODELS.build(dict(type='VSSBlock', hidden_dim=16, drop_path=0.1))
    x = torch.randn(2, 16, *size, requires_grad=True)
    block.train()
    out = block(x)
    assert out.shape == x.shape and out.is_contiguous()
    out.square().mean().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    for name, param in block.named_parameters():
        assert param.grad is not None, name
    block.eval()
    with torch.no_grad():
        torch.testing.assert_close(block(x), block(x))


def test_vssblock_light_sr_and_errors():
    assert VSSBlock(60, is_light_sr=True).conv_blk.cab[0].out_channels == 10
    assert CAB(60).cab[0].out_channels == 20
    with pytest.raises(ValueError, match=r'expected \(B, C=16, H, W\)'):
        VSSBlock(16)(torch.randn(1, 8, 4, 4))
    with pytest.raises(ValueError, match='d_conv must be odd'):
        VSSBlock(16, d_conv=4)


def test_complexity_counts_the_scan_and_the_einsum_projections():
    block = VSSBlock(16)
    x = torch.randn(1, 16, 6, 5)
    stats = module_complexity(block, x)
    inner, length, rank = 32, 30, 1
    scan_macs = selective_scan_macs(1, 4 * inner, length, 16, has_D=True,
                                    has_z=False)
    assert stats['self_attention.scan'].macs == scan_macs
    projections = 4 * length * (inner * (rank + 32) + rank * inner)
    parts = ('in_proj', 'conv2d', 'out_norm', 'out_proj', 'scan')
    counted_parts = sum(stats[f'self_attention.{p}'].macs for p in parts)
    assert stats['self_attention'].macs == counted_parts + projections


def test_vssblock_learns_to_denoise_images():
    """100 CPU steps: a VSSBlock between 1x1 convolutions removes
    a good part of the noise on smooth random images (the identity keeps all
    of it)."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 1), VSSBlock(16), torch.nn.Conv2d(16, 1, 1))
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)

    def batch(n=8, size=12):
        coarse = torch.randn(n, 1, 4, 4)
        clean = F.interpolate(coarse, size=(size, size), mode='bilinear',
                              align_corners=False)
        return clean, clean + 0.5 * torch.randn_like(clean)

    threads = torch.get_num_threads()
    # tiny tensors: one thread avoids parallel-region overhead, which an
    # oversubscribed CI machine multiplies
    torch.set_num_threads(1)
    try:
        for _ in range(100):
            clean, noisy = batch()
            loss = F.mse_loss(noisy + net(noisy), clean)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    finally:
        torch.set_num_threads(threads)
    clean, noisy = batch(32)
    with torch.no_grad():
        restored_error = F.mse_loss(noisy + net(noisy), clean).item()
    identity_error = F.mse_loss(noisy, clean).item()
    assert restored_error < 0.5 * identity_error


def test_get_flops_tool_counts_a_vssblock(tmp_path):
    import importlib.util
    import os.path as osp
    root = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))
    spec = importlib.util.spec_from_file_location(
        'get_flops', osp.join(root, 'tools', 'analysis_tools', 'get_flops.py'))
    get_flops = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(get_flops)
    config = tmp_path / 'vss.py'
    config.write_text("model = dict(type='VSSBlock', hidden_dim=3)\n")
    macs, params = get_flops.main([str(config), '--shape', '9', '7'])
    block = VSSBlock(3)
    assert params == sum(p.numel() for p in block.parameters())
    assert macs == module_complexity(block, torch.rand(1, 3, 9, 7))[''].macs
    assert macs > selective_scan_macs(1, 4 * 6, 63, 16, has_z=False)
