import numpy as np
import pytest
import torch

from dunseg.physics import (
    Blur,
    Downsample,
    KSpaceMask,
    cartesian_mask,
    gaussian_kernel,
    motion_blur_kernel,
    radial_mask,
    random_motion_kernel,
    resize_matrix,
)

DEVICES = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])


def inner(a, b):
    """Real inner product <a, b> = Re(sum conj(a) b)."""
    return (a.conj() * b).sum().real if a.is_complex() else (a * b).sum()


def assert_adjoint(op, x, tol=1e-10):
    ax = op.A(x)
    y = (torch.randn_like(ax) if not ax.is_complex() else torch.complex(
        torch.randn_like(ax.real), torch.randn_like(ax.real)))
    lhs, rhs = inner(ax, y), inner(x, op.A_adjoint(y))
    assert abs(float(lhs - rhs)) <= tol * max(1.0, abs(float(lhs)))


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('padding', ['circular', 'zero'])
@pytest.mark.parametrize(
    'kernel',
    [
        gaussian_kernel(5, 1.2),
        motion_blur_kernel(9, 7, 30),
        np.random.default_rng(0).random((4, 6)),  # even, non-symmetric
        np.random.default_rng(1).random((3, 5, 3)),  # one kernel per channel
    ])
def test_blur_adjoint(kernel, padding, device):
    torch.manual_seed(0)
    op = Blur(kernel, padding=padding).to(device)
    x = torch.randn(2, 3, 12, 17, dtype=torch.float64, device=device)
    assert op.A(x).shape == x.shape
    assert_adjoint(op, x)


def test_blur_conventions():
    # A delta kernel is the identity; a shifted delta shifts (convolution,
    # origin at the kernel centre); both paddings agree away from borders.
    x = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    delta = np.zeros((3, 3))
    delta[1, 1] = 1
    for padding in ('circular', 'zero'):
        assert torch.allclose(Blur(delta, padding).A(x), x)
    shift = np.zeros((3, 3))
    shift[1, 2] = 1  # k at offset (0, +1): y[i, j] = x[i, j - 1]
    y = Blur(shift, 'circular').A(x)
    assert torch.allclose(y, torch.roll(x, 1, dims=-1))
    k = gaussian_kernel(5, 1.0)
    yc, yz = Blur(k, 'circular').A(x), Blur(k, 'zero').A(x)
    assert torch.allclose(yc[..., 2:-2, 2:-2], yz[..., 2:-2, 2:-2])
    # complex input = real and imaginary parts blurred separately
    z = torch.complex(x, 2 * x)
    assert torch.allclose(Blur(k).A(z).imag, 2 * yc)
    with pytest.raises(ValueError, match='padding'):
        Blur(k, padding='reflect')
    with pytest.raises(ValueError, match='fit'):
        Blur(np.ones((21, 21)), 'circular').A(x)
    with pytest.raises(ValueError, match='channels'):
        Blur(np.ones((2, 3, 3))).A(x)


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('filt,factor,boundary', [
    ('none', 2, 'symmetric'),
    ('none', 3, 'symmetric'),
    ('box', 2, 'symmetric'),
    ('bicubic', 2, 'symmetric'),
    ('bicubic', 4, 'circular'),
])
def test_downsample_adjoint(filt, factor, boundary, device):
    torch.manual_seed(0)
    op = Downsample(factor,
                    filt,
                    offset=factor - 1 if filt == 'none' else 0,
                    boundary=boundary)
    x = torch.randn(2,
                    3,
                    12 * factor // 2 * 2,
                    8 * factor,
                    dtype=torch.float64,
                    device=device)
    y = op.A(x)
    assert y.shape[-2:] == (x.shape[-2] // factor, x.shape[-1] // factor)
    assert_adjoint(op, x)
    # complex images (k-space pipelines) work too
    assert_adjoint(op, torch.complex(x, -x))


def test_downsample_values():
    x = torch.rand(1, 1, 8, 8, dtype=torch.float64)
    assert torch.equal(Downsample(2).A(x), x[..., ::2, ::2])
    assert torch.allclose(
        Downsample(2, 'box').A(x), torch.nn.functional.avg_pool2d(x, 2))
    # interpolating filters keep constants constant (rows sum to 1)
    ones = torch.ones(1, 1, 16, 12, dtype=torch.float64)
    assert torch.allclose(Downsample(4, 'bicubic').A(ones), ones[..., :4, :3])
    m = resize_matrix(16, 2, 'bicubic')
    assert np.allclose(m.sum(1), 1) and m.shape == (8, 16)
    with pytest.raises(ValueError, match='multiple of the factor 3'):
        Downsample(3).A(x)
    with pytest.raises(ValueError, match='filter'):
        Downsample(2, 'lanczos')


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('kind', ['cartesian', 'radial'])
def test_kspace_adjoint_real_and_complex(kind, device):
    torch.manual_seed(0)
    shape = (16, 20)
    mask = (cartesian_mask(shape, acceleration=4, seed=0) if kind
            == 'cartesian' else radial_mask(shape, num_lines=6, seed=0))
    x = torch.randn(2, 1, *shape, dtype=torch.float64, device=device)
    op = KSpaceMask(mask, real_input=True).to(device)
    y = op.A(x)
    assert y.is_complex() and op.A_adjoint(y).dtype == torch.float64
    assert_adjoint(op, x)
    opc = KSpaceMask(mask, real_input=False).to(device)
    xc = torch.complex(x, torch.randn_like(x))
    assert_adjoint(opc, xc)
    # full mask: orthonormal FFT => the adjoint inverts A
    full = KSpaceMask(np.ones(shape), real_input=False)
    assert torch.allclose(full.A_adjoint(full.A(xc)), xc)


def test_kspace_masks():
    m1 = cartesian_mask((32, 40), acceleration=4, center_fraction=0.1, seed=3)
    m2 = cartesian_mask((32, 40), acceleration=4, center_fraction=0.1, seed=3)
    m3 = cartesian_mask((32, 40), acceleration=4, center_fraction=0.1, seed=4)
    assert np.array_equal(m1, m2) and not np.array_equal(m1, m3)
    assert m1.sum(0).max() == 32 and (m1.sum(0) > 0).sum() == 10  # W/acc
    assert m1[:, 18:22].all()  # centre lines (DC at W // 2 = 20)
    eq = cartesian_mask((32, 40), num_lines=12, pattern='equispaced', seed=0)
    assert (eq.sum(0) > 0).sum() == 12
    r = radial_mask((32, 32), acceleration=4, seed=0)
    assert r[16, 16] == 1 and 0.25 <= r.mean() < 0.35
    assert np.array_equal(r, radial_mask((32, 32), acceleration=4, seed=0))
    assert (radial_mask((32, 32), num_lines=4, seed=0).mean() < radial_mask(
        (32, 32), num_lines=16, seed=0).mean())
    op = KSpaceMask(m1)
    assert op.acceleration == pytest.approx(4.0)
    with pytest.raises(ValueError, match='mask is'):
        op.A(torch.zeros(1, 1, 8, 8))


def test_kernel_generators():
    for k in (gaussian_kernel(7, (1.0, 2.0),
                              30), motion_blur_kernel(11, 9, 45),
              random_motion_kernel(13, np.random.default_rng(0))):
        assert k.shape[0] % 2 == 1 and k.min() >= 0
        assert k.sum() == pytest.approx(1.0)
    horiz = motion_blur_kernel(9, 7, 0)
    assert horiz[4].sum() > 0.9  # all mass on the centre row
    a = random_motion_kernel(15, np.random.default_rng(5))
    b = random_motion_kernel(15, np.random.default_rng(5))
    assert np.array_equal(a, b)
    with pytest.raises(ValueError, match='odd'):
        gaussian_kernel(4, 1.0)
