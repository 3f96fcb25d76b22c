import pytest
import torch
import torch.nn.functional as F

from dunseg.models.layers import (
    GDFN,
    MDTA,
    CrossMDTA,
    Downsample,
    LayerNorm2d,
    OverlapPatchEmbed,
    RestormerBlocks,
    TransformerBlock,
    Upsample,
)
from dunseg.registry import MODELS


def _reference_attention(q, k, v, heads, temperature):
    """Per-head loop with explicit (C/h, HW) matrices."""
    n, c, h, w = q.shape
    d = c // heads
    out = []
    for i in range(heads):
        qi = q[:, i * d:(i + 1) * d].flatten(2)
        ki = k.expand(n, -1, -1, -1)[:, i * d:(i + 1) * d].flatten(2)
        vi = v[:, i * d:(i + 1) * d].flatten(2)
        qi = qi / qi.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        ki = ki / ki.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        attn = torch.softmax(qi @ ki.transpose(1, 2) * temperature[i], -1)
        out.append((attn @ vi).view(n, d, h, w))
    return torch.cat(out, 1)


@pytest.mark.parametrize('ln_type', ['WithBias', 'BiasFree'])
def test_layer_norm_normalises_channels_per_pixel(ln_type):
    torch.manual_seed(0)
    norm = LayerNorm2d(6, ln_type)
    with torch.no_grad():
        norm.body.weight.uniform_(0.5, 2)
        if ln_type == 'WithBias':
            norm.body.bias.uniform_(-1, 1)
    x = (torch.randn(2, 6, 5, 7) * 3 + 1).requires_grad_()
    # Official: (b, c, h, w) -> (b, hw, c), statistics over the last dim.
    t = x.flatten(2).transpose(1, 2)
    mu = t.mean(-1, keepdim=True)
    var = t.var(-1, keepdim=True, unbiased=False)
    if ln_type == 'WithBias':
        ref = (t - mu) / torch.sqrt(var + 1e-5) * norm.body.weight + \
            norm.body.bias
    else:
        ref = t / torch.sqrt(var + 1e-5) * norm.body.weight
    ref = ref.transpose(1, 2).reshape(2, 6, 5, 7)
    out = norm(x)
    assert out.shape == x.shape
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    # and the same gradients (the statistics are computed differently)
    upstream = torch.randn_like(out)
    grads = torch.autograd.grad((out * upstream).sum(),
                                (x, norm.body.weight))
    ref_grads = torch.autograd.grad((ref * upstream).sum(),
                                    (x, norm.body.weight))
    for grad, ref_grad in zip(grads, ref_grads):
        torch.testing.assert_close(grad, ref_grad, atol=1e-5, rtol=1e-5)
    keys = set(norm.state_dict())
    assert keys == ({'body.weight', 'body.bias'} if ln_type == 'WithBias'
                    else {'body.weight'})


def test_layer_norm_rejects_unknown_type():
    with pytest.raises(ValueError, match='layer_norm_type'):
        LayerNorm2d(4, 'Batch')


def test_mdta_matches_per_head_reference_and_temperature_is_per_head():
    torch.manual_seed(0)
    attn = MDTA(8, num_heads=2)
    assert attn.temperature.shape == (2, 1, 1)
    assert set(attn.state_dict()) == {
        'temperature', 'qkv.weight', 'qkv_dwconv.weight', 'project_out.weight'
    }
    with torch.no_grad():
        attn.temperature.copy_(torch.tensor([0.5, 3.0]).view(2, 1, 1))
    x = torch.randn(2, 8, 6, 5)
    q, k, v = attn.qkv_dwconv(attn.qkv(x)).chunk(3, 1)
    ref = attn.project_out(
        _reference_attention(q, k, v, 2, attn.temperature.view(-1)))
    torch.testing.assert_close(attn(x), ref, atol=1e-5, rtol=1e-5)

    # With an identity output projection, changing head 1's temperature
    # changes only head 1's channels.
    with torch.no_grad():
        attn.project_out.weight.copy_(torch.eye(8).view(8, 8, 1, 1))
        before = attn(x)
        attn.temperature[1] = 10.0
        after = attn(x)
    torch.testing.assert_close(before[:, :4], after[:, :4])
    assert not torch.allclose(before[:, 4:], after[:, 4:])


def test_mdta_rejects_indivisible_heads():
    with pytest.raises(ValueError, match='divisible'):
        MDTA(6, num_heads=4)


def test_cross_mdta_keys_from_prompt_with_other_channels():
    torch.manual_seed(0)
    cross = CrossMDTA(8, num_heads=2, prompt_channels=5)
    assert cross.k.weight.shape == (8, 5, 1, 1)
    assert cross.qv.weight.shape == (16, 8, 1, 1)
    x = torch.randn(3, 8, 4, 6)
    prompt = torch.randn(3, 5, 4, 6)
    out = cross(x, prompt)
    assert out.shape == x.shape
    q, v = cross.qv_dwconv(cross.qv(x)).chunk(2, 1)
    k = cross.k_dwconv(cross.k(prompt))
    ref = cross.project_out(
        _reference_attention(q, k, v, 2, cross.temperature.view(-1)))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    # The prompt steers the output; a batch-1 prompt is shared by the batch.
    assert not torch.allclose(out, cross(x, torch.randn(3, 5, 4, 6)))
    shared = prompt[:1]
    torch.testing.assert_close(
        cross(x, shared), cross(x, shared.expand(3, -1, -1, -1)))
    with pytest.raises(ValueError, match='resize the prompt'):
        cross(x, torch.randn(3, 5, 8, 8))


def test_gdfn_block_and_samplers_shapes():
    torch.manual_seed(0)
    ffn = GDFN(48, 2.66)
    assert ffn.project_in.weight.shape == (254, 48, 1, 1)
    assert ffn.project_out.weight.shape == (48, 127, 1, 1)
    x = torch.randn(1, 48, 8, 8)
    assert ffn(x).shape == x.shape
    block = TransformerBlock(48, 1)
    assert block(x).shape == x.shape
    assert sum(p.numel() for p in block.parameters()) == 125_116 // 4
    assert Downsample(48)(x).shape == (1, 96, 4, 4)
    assert Upsample(48)(x).shape == (1, 24, 16, 16)
    assert set(Downsample(48).state_dict()) == {'body.0.weight'}
    embed = OverlapPatchEmbed(3, 48)
    assert embed(torch.randn(1, 3, 8, 8)).shape == (1, 48, 8, 8)
    assert set(embed.state_dict()) == {'proj.weight'}


def test_restormer_blocks_registered_and_named_like_official():
    blocks = MODELS.build(
        dict(type='RestormerBlocks', dim=16, num_blocks=2, num_heads=2))
    assert isinstance(blocks, RestormerBlocks)
    keys = list(blocks.state_dict())
    assert keys[:4] == [
        'blocks.0.norm1.body.weight', 'blocks.0.norm1.body.bias',
        'blocks.0.attn.temperature', 'blocks.0.attn.qkv.weight'
    ]
    assert 'blocks.1.ffn.project_out.weight' in keys
    x = torch.randn(2, 16, 8, 8, requires_grad=True)
    out = blocks(x)
    assert out.shape == x.shape
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    # F.gelu in GDFN is the exact (erf) GELU as in the official code.
    ffn = blocks.blocks[0].ffn
    h = ffn.dwconv(ffn.project_in(x))
    a, b = h.chunk(2, 1)
    torch.testing.assert_close(ffn(x), ffn.project_out(F.gelu(a) * b))


@pytest.mark.parametrize('bias', [False, True])
def test_depthwise_conv_in_channel_chunks_equals_one_call(bias, monkeypatch):
    from dunseg.models.layers import DepthwiseConv2d
    torch.manual_seed(0)
    conv = DepthwiseConv2d(10, 3, bias=bias)
    plain = torch.nn.Conv2d(10, 10, 3, padding=1, groups=10, bias=bias)
    plain.load_state_dict(conv.state_dict())
    assert set(conv.state_dict()) == set(plain.state_dict())
    x = torch.randn(2, 10, 6, 5, requires_grad=True)
    # 2 x 6 x 5 floats = 240 bytes per channel: chunks of 3, 3, 3 and 1
    monkeypatch.setattr(DepthwiseConv2d, 'cpu_chunk_bytes', 3 * 240)
    out = conv(x)
    ref = plain(x)
    torch.testing.assert_close(out, ref)
    upstream = torch.randn_like(out)
    grads = torch.autograd.grad((out * upstream).sum(),
                                [x] + list(conv.parameters()))
    ref_grads = torch.autograd.grad((ref * upstream).sum(),
                                    [x] + list(plain.parameters()))
    for grad, ref_grad in zip(grads, ref_grads):
        torch.testing.assert_close(grad, ref_grad)
    # the chunked path was taken: one conv2d call per chunk
    calls = []
    real_conv2d = torch.nn.functional.conv2d
    monkeypatch.setattr(torch.nn.functional, 'conv2d',
                        lambda *a: calls.append(a[0].shape) or real_conv2d(*a))
    conv(x)
    assert [s[1] for s in calls] == [3, 3, 3, 1]
