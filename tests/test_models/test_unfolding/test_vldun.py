"""VL-DUN's Attention-Mamba unfolding (dunseg/models/unfolding/vldun.py)."""
import pytest
import torch

from dunseg.models.unfolding import VLDUN, VLDUNSegHead, VLUNet
from dunseg.models.unfolding.vldun import (
    AttentionMambaGDM,
    FrequencyAwareBlock,
    PriorCrossAttention,
    centre_crop_kspace_mask,
)
from dunseg.physics import KSpaceMask, cartesian_mask
from dunseg.utils.complexity import count_macs

MAMBA = dict(d_state=4)


def tiny_vldun(**kwargs):
    cfg = dict(dim=8, num_blocks=(1, 1, 1, 1), num_refinement_blocks=1,
               heads=(1, 1, 1, 1), prior_dim=16, mamba_cfg=MAMBA)
    cfg.update(kwargs)
    return VLDUN(**cfg)


def test_states_shapes_and_rec_head_identity_at_zero_init():
    torch.manual_seed(0)
    model = tiny_vldun(zero_init_output=True)
    x = torch.rand(2, 1, 16, 24)
    states = model(x, torch.randn(2, 2, 16))
    assert len(states) == 8 == len(model.stage_names)
    channels = [s['x'].shape[1] for s in states]
    assert channels == [8, 16, 32, 64, 32, 16, 16, 16]
    sizes = [tuple(s['x'].shape[-2:]) for s in states]
    assert sizes[3] == (2, 3) and sizes[-1] == (16, 24)
    # zero-initialised Rec. Head: the restored slice is the input (exact:
    # the head adds exact zeros)
    assert torch.equal(states[-1]['image'], x)
    with pytest.raises(ValueError, match='divisible by 8'):
        model(torch.rand(1, 1, 12, 16), torch.randn(1, 2, 16))
    with pytest.raises(ValueError, match=r'\(1, V, 16\)'):
        model(torch.rand(1, 1, 16, 16), torch.randn(1, 2, 32))
    with pytest.raises(ValueError, match='use_prior=False'):
        model(torch.rand(1, 1, 16, 16))


def test_physical_gradient_step_is_pgd_on_the_kspace_data_term():
    """z = x − ρ·Aᴴ(Ax − y) with A = M ⊙ F, written with ŷ = Aᴴy."""
    torch.manual_seed(0)
    gdm = AttentionMambaGDM(3, prior_dim=4, physical_operator=True)
    with torch.no_grad():
        gdm.rho.fill_(0.7)
    mask = cartesian_mask((8, 8), acceleration=2, seed=1)
    op = KSpaceMask(torch.from_numpy(mask)[None, None], centered=True)
    x, x_true = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)
    y_k = op.A(x_true)  # complex k-space measurements
    expected = x - 0.7 * op.A_adjoint(op.A(x) - y_k)
    z = gdm(x, op.A_adjoint(y_k), operator=op)
    assert torch.allclose(z, expected, atol=1e-5)
    assert not hasattr(gdm, 'phi')  # no learned operator built
    with pytest.raises(ValueError, match='operator'):
        gdm(x, x)


def test_learned_gradient_step_follows_its_equation_and_reads_the_prior():
    torch.manual_seed(0)
    gdm = AttentionMambaGDM(8, prior_dim=16, num_heads=2, mamba_cfg=MAMBA)
    with torch.no_grad():
        gdm.rho.fill_(0.3)
    x, y = torch.randn(2, 8, 8, 8), torch.randn(2, 8, 8, 8)
    prior = torch.randn(2, 2, 16)
    expected = x - 0.3 * gdm.phi_t(gdm.phi(x, prior) - y)
    assert torch.allclose(gdm(x, y, prior), expected, atol=1e-6)
    # Φ depends on the prior tokens (keys and values)
    other = gdm(x, y, torch.randn(2, 2, 16))
    assert not torch.allclose(other, expected, atol=1e-4)


def test_cross_attention_values_come_from_the_prior():
    """With one token per prior and identical tokens, every pixel receives
    the same value: the attended output does not vary over the image."""
    torch.manual_seed(0)
    attn = PriorCrossAttention(4, prior_dim=6, num_heads=1,
                               tokens_per_prior=1)
    x = torch.randn(1, 4, 5, 5)
    prior = torch.randn(1, 1, 6).expand(1, 2, 6)
    delta = attn(x, prior) - x
    assert torch.allclose(delta, delta[..., :1, :1].expand_as(delta),
                          atol=1e-6)


def test_frequency_split_and_the_ablation_flag():
    torch.manual_seed(0)
    block = FrequencyAwareBlock(8, pool_size=2, mamba_cfg=MAMBA)
    z = torch.randn(1, 8, 8, 8)
    x_low, x_high = block.split(z)
    assert x_low.shape == (1, 8, 4, 4)
    assert torch.allclose(x_low, z.reshape(1, 8, 4, 2, 4, 2).mean((3, 5)))
    # a constant map is all low band
    _, high_const = block.split(torch.full((1, 8, 8, 8), 0.5))
    assert high_const.abs().max() < 1e-6
    out_fd = block(z)
    block.frequency_decoupling = False
    assert not torch.allclose(block(z), out_fd, atol=1e-4)
    with pytest.raises(ValueError, match='pool_size'):
        FrequencyAwareBlock(8, pool_size=1)


def test_flags_change_the_network():
    torch.manual_seed(0)
    base = tiny_vldun()
    state = base.state_dict()
    x, prior = torch.rand(1, 1, 16, 16), torch.randn(1, 2, 16)
    out = base(x, prior)[-1]['image']
    no_fd = tiny_vldun(frequency_decoupling=False)
    no_fd.load_state_dict(state)  # same parameters, only the split differs
    assert not torch.allclose(no_fd(x, prior)[-1]['image'], out, atol=1e-5)

    learned = tiny_vldun(use_prior=False)  # w/o CLIP: learned prompts
    assert learned.learned_prompts.shape == (8, 16)
    assert learned(x)[-1]['image'].shape == x.shape

    physical = tiny_vldun(physical_operator=True, use_prior=False)
    assert not any('phi' in k for k in physical.state_dict())
    mask = torch.from_numpy(cartesian_mask((16, 16), 4, seed=0))[None, None]
    op = KSpaceMask(mask, centered=True)
    assert physical(x, operator=op)[-1]['image'].shape == x.shape
    with pytest.raises(ValueError, match='kspace_mask'):
        physical(x)


def test_deeper_levels_see_the_centre_of_kspace():
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., 4, :] = 1  # the DC row of a centred mask
    crop = centre_crop_kspace_mask(mask, (4, 4))
    assert crop.shape == (1, 1, 4, 4) and crop[..., 2, :].eq(1).all()
    assert crop.sum() == 4
    model = tiny_vldun(physical_operator=True, use_prior=False)
    ops = model._level_operators(KSpaceMask(mask, centered=True), (8, 8))
    assert [tuple(ops[level].mask.shape[-2:]) for level in (1, 2, 3, 4)] == [
        (8, 8), (4, 4), (2, 2), (1, 1)]


def test_default_vldun_is_lighter_than_vlunet():
    """Paper App. H: VL-DUN has fewer parameters and FLOPs than VLU-Net
    (VLU-Net: 35,353,028 parameters, 42.0 G MACs at 128x128). Every counted
    layer's MACs are (pixels x constant) plus a per-image constant (the
    prior-token projections), so two small inputs give the 128² figure
    exactly (docs/benchmarks.md has the direct count: 27.64 G)."""
    torch.manual_seed(0)
    model = VLDUN()
    params = sum(p.numel() for p in model.parameters())
    vlunet_params = sum(p.numel() for p in VLUNet().parameters())
    assert vlunet_params == 35_353_028
    assert params == 22_281_176 and params < vlunet_params

    def macs(size):
        x = torch.rand(1, 1, size, size)
        prior = torch.randn(1, 2, 512)
        return count_macs(model, x, forward=lambda m, i: m(i, prior))[0]

    m16, m32 = macs(16), macs(32)
    per_pixel = (m32 - m16) / (32**2 - 16**2)
    at_128 = m16 + per_pixel * (128**2 - 16**2)
    assert abs(at_128 - 27.64e9) < 0.01e9
    assert at_128 < 42.0e9
    # with the Seg. Head of the joint setting (7 classes) still lighter
    head = VLDUNSegHead(model.final_channels, num_classes=7)
    head_params = sum(p.numel() for p in head.parameters())
    head_macs = count_macs(head, torch.rand(1, 96, 16, 16))[0] * 64
    assert head_params == 92_871
    assert params + head_params < vlunet_params
    assert abs(at_128 + head_macs - 29.17e9) < 0.01e9
    assert at_128 + head_macs < 42.0e9
