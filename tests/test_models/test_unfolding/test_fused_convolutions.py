"""The background U-net's fused convolutions (``run_blocks``) against the
blocks written out conv by conv, as the official ``UNetConvBlock_fre``,
``InvBlock`` and ``SpatialFuse``/``ChannelFuse`` compute them
(github.com/ChunmingHe/RUN, lib/Modules.py): same outputs and the same
gradients for every parameter, up to float rounding."""
import pytest
import torch
import torch.nn.functional as F

from dunseg.models.unfolding.run_blocks import (
    CouplingFuse,
    HalfInstanceNormBlock,
    InvertibleCoupling,
    InvertibleCouplingUNet,
)


def conv_by_conv_block(block, x):
    out = block.conv_1(x)
    first, second = torch.chunk(out, 2, dim=1)
    out = block.relu(torch.cat([block.norm(first), second], 1))
    return block.relu(block.conv_2(out)) + block.identity(x)


def conv_by_conv_coupling(coupling, x):
    x1, x2 = x[:, :coupling.split1], x[:, coupling.split1:]
    y1 = x1 + conv_by_conv_block(coupling.F, x2)
    scale = coupling.clamp * (
        torch.sigmoid(conv_by_conv_block(coupling.H, y1)) * 2 - 1)
    y2 = x2 * torch.exp(scale) + conv_by_conv_block(coupling.G, y1)
    return x + torch.cat([y1, y2], 1)


def conv_by_conv_fuse(fuse, x):
    coupled = conv_by_conv_coupling(fuse.spatial_process, x)
    return fuse.cat(torch.cat([coupled, fuse.frequency_spatial(coupled)],
                              1)) + x


def conv_by_conv_unet(net, x):
    def block(module, t):
        return conv_by_conv_fuse(module.cha, conv_by_conv_fuse(module.spa, t))

    def resize(t, ref):
        return F.interpolate(t, size=ref.shape[2:], mode='bilinear')

    feat = net.extract(x)
    level1 = block(net.conv1, net.conv0(feat))
    level2 = block(net.conv2, net.downsample1(level1))
    level3 = block(net.conv3, net.downsample2(level2))
    up = block(net.conv4,
               net.up1(torch.cat([resize(level3, level2), level2], 1)))
    up = block(net.conv5, net.up2(torch.cat([resize(up, level1), level1], 1)))
    return net.recons(net.convout(up) + feat)


def randomise(module):
    # non-trivial norm affines and biases, so a misplaced channel shows
    # (the convolutions keep their default initialisation)
    torch.manual_seed(1)
    with torch.no_grad():
        for param in module.parameters():
            if param.dim() == 1:
                param.copy_(torch.randn_like(param) * 0.3)
    return module


def assert_same_outputs_and_gradients(module, fused, reference, x):
    out = fused(module, x)
    grads = torch.autograd.grad(out.square().sum(),
                                list(module.parameters()) + [x])
    ref = reference(module, x)
    ref_grads = torch.autograd.grad(ref.square().sum(),
                                    list(module.parameters()) + [x])
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    names = [n for n, _ in module.named_parameters()] + ['input']
    # a bias in front of an instance norm has a zero gradient that each
    # order of summation rounds differently: absolute error relative to
    # the largest gradient
    scale = max(float(g.abs().max()) for g in ref_grads)
    for name, grad, ref_grad in zip(names, grads, ref_grads):
        torch.testing.assert_close(grad, ref_grad, rtol=1e-4,
                                   atol=1e-5 * scale,
                                   msg=lambda m, n=name: f'{n}: {m}')


@pytest.mark.parametrize('channels_last', [False, True])
@pytest.mark.parametrize('module,reference,channels', [
    (lambda: HalfInstanceNormBlock(4, 4), conv_by_conv_block, 4),
    (lambda: HalfInstanceNormBlock(6, 10), conv_by_conv_block, 6),
    (lambda: InvertibleCoupling(8), conv_by_conv_coupling, 8),
    (lambda: InvertibleCoupling(24), conv_by_conv_coupling, 24),
    (lambda: CouplingFuse(16, 3), conv_by_conv_fuse, 16),
    (lambda: CouplingFuse(16, 1), conv_by_conv_fuse, 16),
    (lambda: InvertibleCouplingUNet(7, 8, 3), conv_by_conv_unet, 7),
])
def test_fused_blocks_match_conv_by_conv(module, reference, channels,
                                         channels_last):
    module = randomise(module())
    x = torch.rand(2, channels, 20, 24, requires_grad=True)
    if channels_last:
        module = module.to(memory_format=torch.channels_last)
        x = x.detach().contiguous(
            memory_format=torch.channels_last).requires_grad_()
    assert_same_outputs_and_gradients(module, lambda m, t: m(t), reference,
                                      x)


def test_reference_is_sensitive_to_a_wrong_weight():
    # the comparison above must fail when a fused weight is misplaced
    net = randomise(InvertibleCoupling(8))
    x = torch.rand(2, 8, 12, 12)
    expected = conv_by_conv_coupling(net, x)
    with torch.no_grad():
        net.H.identity.bias.add_(0.1)
    assert not torch.allclose(net(x), expected, rtol=1e-5, atol=1e-5)
