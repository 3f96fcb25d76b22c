import pytest
import torch
from torch import nn

from dunseg.models.layers import SingleOutputConv2d


def _pair(in_channels, kernel_size, bias):
    torch.manual_seed(0)
    fast = SingleOutputConv2d(in_channels, kernel_size, bias=bias).double()
    reference = nn.Conv2d(
        in_channels, 1, kernel_size, padding=kernel_size // 2,
        bias=bias).double()
    reference.load_state_dict(fast.state_dict())
    return fast, reference


@pytest.mark.parametrize('kernel_size', [1, 3, 5])
@pytest.mark.parametrize('bias', [True, False])
@pytest.mark.parametrize('channels_last', [True, False])
def test_matches_conv2d_values_and_gradients(kernel_size, bias,
                                              channels_last):
    fast, reference = _pair(6, kernel_size, bias)
    x = torch.randn(3, 6, 9, 11, dtype=torch.float64)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    outputs, grads = [], []
    for module in (fast, reference):
        inp = x.clone().requires_grad_()
        out = module(inp)
        params = [inp] + list(module.parameters())
        grads.append(torch.autograd.grad((out.sin() * 3).sum(), params))
        outputs.append(out)
    assert outputs[0].shape == (3, 1, 9, 11)
    torch.testing.assert_close(outputs[0], outputs[1])
    for got, expected in zip(*grads):
        torch.testing.assert_close(got, expected)


def test_gradcheck_on_the_fast_path():
    fast, _ = _pair(4, 3, True)
    x = torch.randn(2, 4, 5, 6, dtype=torch.float64).contiguous(
        memory_format=torch.channels_last).requires_grad_()
    assert torch.autograd.gradcheck(fast, (x, ))


def test_state_dict_is_that_of_conv2d():
    fast, reference = _pair(32, 3, True)
    assert isinstance(fast, nn.Conv2d)
    assert {k: v.shape for k, v in fast.state_dict().items()} == {
        k: v.shape for k, v in reference.state_dict().items()}


def test_rejects_even_kernels():
    with pytest.raises(ValueError, match='odd kernel size'):
        SingleOutputConv2d(4, 2)


@pytest.mark.parametrize('scale_batch', [1, 3])
def test_channel_scale_equals_scaling_the_input(scale_batch):
    fast, reference = _pair(5, 3, True)
    x = torch.randn(3, 5, 7, 8, dtype=torch.float64).contiguous(
        memory_format=torch.channels_last)
    scale = torch.rand(scale_batch, 5, 1, 1, dtype=torch.float64)
    outputs, grads = [], []
    for module, scaled in ((fast, False), (reference, True)):
        inp, s = x.clone().requires_grad_(), scale.clone().requires_grad_()
        out = module(inp * s) if scaled else module(inp, s)
        params = [inp, s] + list(module.parameters())
        grads.append(torch.autograd.grad((out.sin() * 3).sum(), params))
        outputs.append(out)
    torch.testing.assert_close(outputs[0], outputs[1])
    for got, expected in zip(*grads):
        torch.testing.assert_close(got, expected)
    # NCHW input: the ordinary convolution of the scaled map
    torch.testing.assert_close(
        fast(x.contiguous(), scale), reference(x * scale))


def test_channel_scale_needs_one_row_per_image():
    fast, _ = _pair(4, 3, True)
    x = torch.randn(3, 4, 5, 5, dtype=torch.float64).contiguous(
        memory_format=torch.channels_last)
    with pytest.raises(ValueError, match='one \\(N, C, 1, 1\\) row per image'):
        fast(x, torch.rand(2, 4, 1, 1, dtype=torch.float64))
