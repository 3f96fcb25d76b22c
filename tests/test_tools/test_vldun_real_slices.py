"""tools/experiments/vldun_real_slices.py: its own numpy masks and
zero-filling agree with the physics they claim, and the design-alone model
(untrained, data-consistent) never scores below the zero-filled input."""
import importlib.util
import os.path as osp

import numpy as np
import pytest

from ..conftest import REPO_ROOT

SCRIPT = osp.join(REPO_ROOT, 'tools', 'experiments', 'vldun_real_slices.py')


def load_script():
    spec = importlib.util.spec_from_file_location('vldun_real_slices',
                                                  SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('shape', [(64, 64), (128, 128)])
def test_masks_reach_the_acceleration_and_radial_spokes_are_symmetric(
        shape):
    tool = load_script()
    rng = np.random.default_rng(0)
    radial = tool.radial_mask(shape, rng)
    assert 0.25 <= radial.mean() < 0.30
    # spokes through DC sample k and -k alike (index i <-> H - i)
    fft_order = np.fft.ifftshift(radial)
    mirrored = np.roll(np.flip(fft_order, (0, 1)), (1, 1), (0, 1))
    assert np.array_equal(fft_order, mirrored)
    cartesian = tool.cartesian_mask(shape, rng)
    columns = cartesian.any(0)
    assert columns.sum() == round(shape[1] / 4)
    assert cartesian[:, shape[1] // 2].all()  # the centre is sampled
    assert np.array_equal(cartesian.any(1), np.ones(shape[0], bool))


def test_zero_filling_matches_the_definition():
    tool = load_script()
    rng = np.random.default_rng(1)
    image = rng.random((32, 32))
    mask = tool.cartesian_mask((32, 32), rng)
    degraded = tool.zero_filled(image, mask)
    spectrum = np.fft.fftshift(np.fft.fft2(image))
    expected = np.fft.ifft2(np.fft.ifftshift(mask * spectrum)).real
    assert np.allclose(degraded, expected)
    assert tool.psnr(image, image) > 100
    assert tool.ssim(image, image) == pytest.approx(1.0)


def test_design_alone_is_no_worse_than_the_zero_filled_input():
    pytest.importorskip('pydicom', reason='the held-out slices are pydicom '
                        'test files')
    tool = load_script()
    slices = tool.held_out_slices()
    if 'mr_small' not in slices:
        pytest.skip('pydicom does not ship MR_small.dcm here')
    from dunseg.apis import init_model
    model = init_model(osp.join(
        REPO_ROOT, 'configs', 'vldun',
        'vldun-dc_tiny_0.6k_synthetic-phantom-real-slices-64x64.py'))
    rows = tool.evaluate(model, {'mr_small': slices['mr_small']}, seeds=1)
    assert len(rows) == 2  # radial and Cartesian at 64x64 (= native)
    for row in rows:
        assert row['psnr'] >= row['psnr_input'] - 1e-6
    assert tool.prior_accuracy(rows)['pattern']


def test_numpy_projection_matches_the_untrained_network():
    tool = load_script()
    import torch

    from dunseg.models.unfolding.vldun import project_onto_measurements
    rng = np.random.default_rng(2)
    image = rng.random((32, 32))
    mask = tool.cartesian_mask((32, 32), rng)
    degraded = tool.zero_filled(image, mask)
    ours = tool.consistent(degraded, degraded, mask)
    theirs = project_onto_measurements(
        torch.from_numpy(degraded)[None, None],
        torch.from_numpy(degraded)[None, None],
        torch.from_numpy(np.fft.ifftshift(mask))[None, None])[0, 0].numpy()
    assert np.allclose(ours, theirs)
    # the Cartesian mask is not symmetric: the projection adds the mirrored
    # samples and moves the input towards the clean slice
    assert tool.psnr(ours, image) > tool.psnr(degraded, image)
