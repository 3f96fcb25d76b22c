"""VL-DUN's data-consistency departure (``data_consistency``,
``consistency_box``): the output agrees with the measured k-space, an
untrained network returns the consistent zero-filled input, and the
paper's configuration is untouched."""
import numpy as np
import pytest
import torch

from dunseg.models.unfolding import VLDUN
from dunseg.models.unfolding.vldun import project_onto_measurements
from dunseg.physics import KSpaceMask
from dunseg.physics.undersampling import make_kspace_mask, zero_filled

MAMBA = dict(d_state=4)


def tiny_vldun(**kwargs):
    cfg = dict(dim=8, num_blocks=(1, 1, 1, 1), num_refinement_blocks=1,
               heads=(1, 1, 1, 1), prior_dim=16, mamba_cfg=MAMBA)
    cfg.update(kwargs)
    return VLDUN(**cfg)


def symmetric(mask):
    """The centred mask plus its mirror k -> -k (a Hermitian-symmetric
    sampling, for which zero-filling loses nothing it measured)."""
    fft_order = np.fft.ifftshift(mask)
    mirrored = np.roll(np.flip(fft_order, (0, 1)), (1, 1), (0, 1))
    return np.fft.fftshift(np.maximum(fft_order, mirrored))


def undersampled(modality, size=32, seed=0, n=2, mirror=False):
    """(clean, zero-filled, operator) of n random smooth-ish slices."""
    gen = torch.Generator().manual_seed(seed)
    clean = torch.rand(n, 1, size, size, generator=gen)
    clean = torch.nn.functional.avg_pool2d(clean, 3, 1, 1)
    masks = [make_kspace_mask(modality, (size, size), 4.0, seed=seed + i)
             for i in range(n)]
    if mirror:
        masks = [symmetric(m) for m in masks]
    degraded = torch.stack([
        torch.from_numpy(zero_filled(clean[i, 0].numpy(), masks[i]))[None]
        for i in range(n)
    ])
    operator = KSpaceMask(torch.from_numpy(masks[0]).float()[None, None]
                          if n == 1 else torch.stack([
                              torch.from_numpy(m).float()[None]
                              for m in masks
                          ]), centered=True, real_input=True)
    return clean, degraded, operator


@pytest.mark.parametrize('modality', ['CT', 'MRI'])
def test_projection_matches_the_measurements_and_never_moves_away(modality):
    clean, degraded, operator = undersampled(modality)
    guess = torch.rand_like(clean) * 2 - 0.5
    projected = project_onto_measurements(guess, degraded, operator.mask)
    # the measured samples are the clean slice's
    assert torch.allclose(operator.A(projected), operator.A(clean),
                          atol=1e-5)
    # idempotent, and no further from the clean slice than the guess
    again = project_onto_measurements(projected, degraded, operator.mask)
    assert torch.allclose(again, projected, atol=1e-5)
    for i in range(len(clean)):
        assert (projected[i] - clean[i]).norm() <= \
            (guess[i] - clean[i]).norm() + 1e-6
    # the projection of the clean slice is the clean slice
    assert torch.allclose(
        project_onto_measurements(clean, degraded, operator.mask), clean,
        atol=1e-5)


@pytest.mark.parametrize('modality', ['CT', 'MRI'])
def test_zero_filled_input_is_consistent_for_symmetric_masks(modality):
    # a mask that samples k and -k alike: the zero-filled slice already
    # agrees with the measurements
    _, degraded, operator = undersampled(modality, mirror=True)
    assert torch.allclose(
        project_onto_measurements(degraded, degraded, operator.mask),
        degraded, atol=1e-5)


@pytest.mark.parametrize('modality', ['CT', 'MRI'])
def test_untrained_network_returns_the_consistent_zero_filled_input(
        modality):
    torch.manual_seed(0)
    clean, degraded, operator = undersampled(modality)
    model = tiny_vldun(zero_init_output=True, data_consistency=True)
    image = model(degraded, torch.randn(2, 2, 16), operator)[-1]['image']
    expected = project_onto_measurements(degraded, degraded, operator.mask)
    assert torch.allclose(image, expected, atol=1e-5)
    _, sym_degraded, sym_operator = undersampled(modality, mirror=True)
    sym_image = model(sym_degraded, torch.randn(2, 2, 16),
                      sym_operator)[-1]['image']
    assert torch.allclose(sym_image, sym_degraded, atol=1e-5)
    # never further from the clean slice than the zero-filled input
    for i in range(len(clean)):
        assert (image[i] - clean[i]).norm() <= \
            (degraded[i] - clean[i]).norm() + 1e-6


def test_consistency_box_clips_between_projections():
    torch.manual_seed(0)
    clean, degraded, operator = undersampled('MRI')
    model = tiny_vldun(zero_init_output=True, data_consistency=True,
                       consistency_box=(0.0, 1.0))
    torch.nn.init.normal_(model.output.weight, std=0.5)  # a wild network
    image = model(degraded, torch.randn(2, 2, 16), operator)[-1]['image']
    assert torch.allclose(operator.A(image), operator.A(clean), atol=1e-5)
    image.sum().backward()
    assert model.output.weight.grad is not None


def test_data_consistency_needs_the_operator_and_unpadded_slices():
    model = tiny_vldun(data_consistency=True)
    assert model.needs_operator and not tiny_vldun().needs_operator
    x = torch.rand(1, 1, 16, 16)
    with pytest.raises(ValueError, match='needs the k-space operator'):
        model(x, torch.randn(1, 2, 16))
    op = KSpaceMask(torch.ones(1, 1, 24, 24), centered=True)
    with pytest.raises(ValueError, match='unpadded slices'):
        model(x, torch.randn(1, 2, 16), op)
    with pytest.raises(ValueError, match='set data_consistency=True'):
        tiny_vldun(consistency_box=(0, 1))
    with pytest.raises(ValueError, match='low < high'):
        tiny_vldun(data_consistency=True, consistency_box=(1, 0))


def test_off_by_default_and_free_of_parameters():
    torch.manual_seed(0)
    paper = tiny_vldun()
    torch.manual_seed(0)
    ours = tiny_vldun(data_consistency=True, consistency_box=(0, 1))
    assert not paper.data_consistency and paper.consistency_box is None
    count = sum(p.numel() for p in paper.parameters())
    assert count == sum(p.numel() for p in ours.parameters())
    x = torch.rand(1, 1, 16, 16)
    prior = torch.randn(1, 2, 16)
    # without the flag the image is the paper's Rec. Head: conv + input
    states = paper(x, prior)
    reference = paper.output(states[-1]['x']) + x
    assert torch.equal(states[-1]['image'], reference)
