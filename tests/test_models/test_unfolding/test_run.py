"""RUN: exact parameter counts against the official network, shapes, flags."""
import pytest
import torch

from dunseg.models.encoders import ResNetEncoder
from dunseg.models.unfolding.run import (
    ResidualSparsityStep,
    RUNUnfolding,
    certainty_weight,
    push_confident_to_extremes,
)

# The pure-PyTorch scan: no C++ kernel build inside the tests.
TINY_VSS = dict(type='VSSBlock', d_state=4, expand=1.0, d_conv=3,
                scan_backend='torch')


def num_params(module):
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    # Small convolutions: extra threads only contend on a shared machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def official_unused_params(c):
    """Parameters the official ``Network(channels=c)`` registers but never
    calls, from the shapes in its lib/Modules.py and lib/Network.py."""
    mean_std_convs = 2 * ((16 + 16) + (16 * 16 * 9 + 16) + (16 + 1))

    def arb(instance_norm):  # AGF's attention residual block
        spatial = c * (c // 4) * 9 + c // 4 + (c // 4) * 9 + 1
        residual = c * c * 9 + (0 if instance_norm else 2 * c)
        return 3 + spatial + residual + mean_std_convs

    wavelet_branch = 3 * arb(True) + 3 * 3 * arb(False)  # AGFG_LL/LH/HL/HH
    tfd = 2 * (c * c * 9 + c) + 2 * (2 * c * c * 9 + c) + 2 * c  # per REU6
    cam = 2 * c * (c // 16)
    sam, conv_b = 2 * 49, 7 * 3 * 9 + 3
    caf_conv1 = 2 * c * c + c
    frequency_blocks = sum(4 * (nc * 9 + nc) + 4 * (nc * nc + nc)
                           for nc in (8, 8, 16, 16, 24))
    return (wavelet_branch + 4 * tfd + cam + sam + conv_b + caf_conv1 +
            frequency_blocks)


@pytest.mark.parametrize('channels,ours,official', [
    (192, 66_057_263, 79.15e6),
    (64, 37_470_255, 38.99e6),
])
def test_counts_reproduce_the_official_network(channels, ours, official):
    with torch.device('meta'):
        encoder = ResNetEncoder(depth=50)
        run = RUNUnfolding(channels=channels, vss_cfg=TINY_VSS)
    without_ss = (num_params(encoder) + num_params(run) -
                  num_params(run.state_space) -
                  num_params(run.fuse_state_space))
    assert without_ss == ours
    # + the registered-but-unused official modules (13,096,842 at 192
    # channels) + conv_final2 (19), which the official forward calls
    # (ChunmingHe/RUN, lib/Network.py) = the official parameter count
    total = without_ss + official_unused_params(channels) + 19
    assert official_unused_params(192) == 13_096_842
    assert abs(total - official) / official < 1e-3
    assert total in (79_154_124, 38_986_572)


def test_state_space_blocks_match_runs_vss_blocks():
    with torch.device('meta'):
        run = RUNUnfolding(channels=192)
    ss = run.state_space
    # official VSSBlock(192) and VSSBlock(192, is_light_sr=True) of RUN's
    # Modules.py, built per call there
    assert num_params(ss.small_field) == 564_550
    assert num_params(ss.large_field) == 383_142
    assert num_params(ss.out_y) == 192 * 9 + 1
    # RUN builds VSSBlock(hidden_dim) with the block's default norm, eps
    # 1e-6 (lib/Modules.py); MambaIR's BasicLayer passes nn.LayerNorm (1e-5)
    assert ss.small_field.ln_1.eps == ss.large_field.ln_1.eps == 1e-6
    assert ss.small_field.ln_2.eps == 1e-5
    with torch.device('meta'):
        mambair = RUNUnfolding(channels=192, large_field_cab='mambair')
    assert num_params(mambair.state_space.large_field) == 453_926


def _features(batch, size, in_channels=(8, 16, 32, 64)):
    h, w = size
    return [torch.randn(batch, c, -(-h // s), -(-w // s))
            for c, s in zip(in_channels, (4, 8, 16, 32))]


@pytest.mark.parametrize('size', [(64, 64), (96, 64)])
def test_states_and_shapes(size):
    torch.manual_seed(0)
    run = RUNUnfolding(in_channels=(8, 16, 32, 64), channels=16,
                       vss_cfg=TINY_VSS).eval()
    image = torch.randn(2, 3, *size)
    with torch.no_grad():
        states = run(image, _features(2, size))
    assert len(states) == 5 == len(run.stage_names)
    assert set(states[0]) == {'mask', 'background'}
    assert set(states[1]) == {'mask', 'background', 'edge', 'mask_hat',
                              'mask_ss'}
    for state in states[2:]:
        assert set(state) == {'mask', 'background', 'edge'}
    for state in states:
        assert state['mask'].shape == (2, 1, *size)
        assert state['background'].shape == (2, 3, *size)
        if 'edge' in state:
            assert state['edge'].shape == (2, 1, *size)
            assert state['edge'].min() >= 0 and state['edge'].max() <= 1


@pytest.mark.slow
def test_runs_at_352():
    # the official code fails at 352 (wavelet branch); features of a 352
    # image end at 11 x 11
    run = RUNUnfolding(in_channels=(8, 16, 32, 64), channels=16,
                       vss_cfg=None).eval()
    with torch.no_grad():
        states = run(torch.randn(1, 3, 352, 352), _features(1, (352, 352)))
    assert states[-1]['mask'].shape == (1, 1, 352, 352)


def test_backward_reaches_every_trained_module():
    torch.manual_seed(0)
    run = RUNUnfolding(in_channels=(8, 16, 32, 64), channels=16,
                       vss_cfg=TINY_VSS)
    image = torch.randn(2, 3, 64, 64)
    states = run(image, _features(2, (64, 64)))
    loss = sum(s['mask'].mean() + s['background'].mean() for s in states)
    loss = loss + sum(s['edge'].mean() for s in states[1:])
    loss.backward()
    no_grad = [name for name, p in run.named_parameters() if p.grad is None]
    assert no_grad == []


def test_background_step_is_the_closed_form():
    run = RUNUnfolding(in_channels=(8, 16, 32, 64), channels=16,
                       vss_cfg=None)
    captured = {}
    run.background_net.register_forward_pre_hook(
        lambda m, args: captured.setdefault('x', args[0]))
    torch.manual_seed(0)
    mask, previous, image = (torch.randn(1, 1, 8, 8), torch.randn(1, 3, 8, 8),
                             torch.randn(1, 3, 8, 8))
    run.lam.data.fill_(0.5)
    run.background_step(mask, previous, image)
    prob = torch.sigmoid(mask)
    expected = (0.5 * previous + image - prob * image) / 1.5
    torch.testing.assert_close(captured['x'][:, 1:4], expected)
    torch.testing.assert_close(captured['x'][:, :1], prob)
    run.mask_as = 'logits'  # official: the logits themselves
    captured.clear()
    run.background_step(mask, previous, image)
    torch.testing.assert_close(captured['x'][:, 1:4],
                               (0.5 * previous + image - mask * image) / 1.5)


def test_residual_sparsity_helpers_and_closed_form():
    p = torch.tensor([0.05, 0.2, 0.45, 0.5, 0.55, 0.7, 0.95])
    torch.testing.assert_close(push_confident_to_extremes(p),
                               torch.tensor([0.05, 0.1, 0.45, 0.5, 0.55, 0.9,
                                             0.95]))
    torch.testing.assert_close(certainty_weight(p),
                               torch.tensor([1., 1., 0., 0., 0., 1., 1.]))
    step = ResidualSparsityStep()
    # the sparse residual CNN outputs zero: M̂ is the data-term minimiser
    for m in step.sparse_module.convs:
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.zeros_(m.weight)
            torch.nn.init.zeros_(m.bias)
    image = torch.full((1, 3, 2, 2), 2.0)
    background = torch.full((1, 3, 2, 2), 0.5)
    mask = torch.full((1, 1, 2, 2), 0.7)  # m̃ = 0.9, r = 0.9 + 0.7 - 0.9
    out = step(image, background, mask, mask, mask)
    mu, alpha = 0.01, 0.01
    expected = (4 - 1 + alpha * 0.7 + mu * 0.7) / (4 + 1 + mu + 1e-6)
    torch.testing.assert_close(out, torch.full((1, 1, 2, 2), expected))


def test_official_view_flatten_differs_from_permute():
    torch.manual_seed(0)
    run = RUNUnfolding(in_channels=(8, 16, 32, 64), channels=16,
                       vss_cfg=TINY_VSS).eval()
    image = torch.randn(1, 3, 64, 64)
    features = _features(1, (64, 64))
    with torch.no_grad():
        fixed = run(image, features)[1]['mask_ss']
        run.state_space.flatten = 'view'
        official = run(image, features)[1]['mask_ss']
    assert not torch.allclose(fixed, official)
    # the 'view' path is a memory reinterpretation: with a block that is the
    # identity both agree
    block_input = {}
    identity = torch.nn.Identity()
    identity.register_forward_pre_hook(
        lambda m, args: block_input.setdefault('x', args[0]))
    x = torch.arange(2 * 3 * 4 * 5.).view(2, 3, 4, 5)
    out = run.state_space._run_block(identity, x)
    torch.testing.assert_close(out, x)
    torch.testing.assert_close(block_input['x'].permute(0, 2, 3, 1).flatten(),
                               x.flatten())


def test_batch_weight_norm_couples_images_image_norm_does_not():
    torch.manual_seed(0)
    run = RUNUnfolding(in_channels=(8, 16, 32, 64), channels=16,
                       vss_cfg=TINY_VSS).eval()
    image = torch.randn(2, 3, 64, 64)
    features = _features(2, (64, 64))
    with torch.no_grad():
        pair = run(image, features)[1]['mask_ss'][:1]
        alone = run(image[:1], [f[:1] for f in features])[1]['mask_ss']
        torch.testing.assert_close(pair, alone, rtol=1e-4, atol=1e-5)
        run.state_space.weight_norm = 'batch'
        pair = run(image, features)[1]['mask_ss'][:1]
        alone = run(image[:1], [f[:1] for f in features])[1]['mask_ss']
    assert not torch.allclose(pair, alone, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_rebuilt_vss_blocks_change_every_call_registered_ones_do_not():
    run = RUNUnfolding(in_channels=(8, 16, 32, 64), channels=16,
                       vss_cfg=TINY_VSS).eval()
    image = torch.randn(1, 3, 64, 64)
    features = _features(1, (64, 64))
    with torch.no_grad():
        first = run(image, features)[1]['mask_ss']
        torch.testing.assert_close(run(image, features)[1]['mask_ss'], first)
        run.state_space.rebuild_each_call = True
        a = run(image, features)[1]['mask_ss']
        b = run(image, features)[1]['mask_ss']
    assert not torch.allclose(a, b)


def test_invalid_flags_are_named():
    with pytest.raises(ValueError, match='mask_as'):
        RUNUnfolding(channels=16, vss_cfg=None, mask_as='sigmoid')
    with pytest.raises(ValueError, match='ss_flatten'):
        RUNUnfolding(in_channels=(8, 16, 32, 64), channels=16,
                     vss_cfg=TINY_VSS, ss_flatten='reshape')


def test_too_small_an_image_is_named_as_such_in_evaluation():
    from dunseg.models.unfolding.run_blocks import InvertibleCouplingUNet
    unet = InvertibleCouplingUNet().eval()
    with torch.no_grad(), pytest.raises(ValueError,
                                        match='4x4 input is too small'):
        unet(torch.rand(1, 7, 4, 4))
    assert unet(torch.rand(1, 7, 8, 8)).shape == (1, 3, 8, 8)
