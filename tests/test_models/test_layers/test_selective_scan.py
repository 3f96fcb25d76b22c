"""selective_scan against the recurrence it implements, on every backend
that can run here."""
import pytest
import torch
import torch.nn.functional as F

from dunseg.models.layers import SelectiveScan, selective_scan
from dunseg.models.layers.selective_scan import (
    linear_scan,
    load_cpu_kernel,
    mamba_ssm_available,
    resolve_backend,
    selective_scan_macs,
)


def _runnable_backends():
    backends = ['torch']
    if load_cpu_kernel() is not None:
        backends.append('cpu_kernel')
    return backends


BACKENDS = _runnable_backends()


def recurrence(u, delta, A, B, C, D=None, z=None, delta_bias=None,
               delta_softplus=False):
    """h_t = exp(Δ_t A) h_{t-1} + Δ_t B_t u_t, y_t = C_t h_t + D u_t, gated
    by silu(z): one Python step per position, in float64."""
    u, delta, A = u.double(), delta.double(), A.double()
    B, C = B.double(), C.double()
    if delta_bias is not None:
        delta = delta + delta_bias.double()[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    batch, dim, length = u.shape

    def at_step(X, t):  # B or C of every channel at step t: (batch, D, N)
        if X.dim() == 2:
            return X.expand(batch, -1, -1)
        if X.dim() == 3:
            return X[:, None, :, t].expand(-1, dim, -1)
        return X[..., t].repeat_interleave(dim // X.shape[1], dim=1)

    h = u.new_zeros(batch, dim, A.shape[1])
    outputs = []
    for t in range(length):
        h = (torch.exp(delta[:, :, t, None] * A) * h +
             delta[:, :, t, None] * at_step(B, t) * u[:, :, t, None])
        outputs.append((h * at_step(C, t)).sum(-1))
    y = torch.stack(outputs, dim=-1)
    if D is not None:
        y = y + D.double()[:, None] * u
    if z is not None:
        y = y * F.silu(z.double())
    return y, h


def _relative_error(actual, expected):
    return ((actual.double() - expected.double()).abs().max() /
            expected.double().abs().max().clamp_min(1e-30)).item()


def _inputs(b_layout, c_layout, batch=2, dim=8, nstate=4, length=37,
            dtype=torch.float32, delta_scale=1.0, seed=0):
    generator = torch.Generator().manual_seed(seed)

    def randn(*shape):
        return torch.randn(*shape, generator=generator, dtype=dtype)

    def state_matrix(layout):
        return {
            'shared': lambda: randn(dim, nstate),
            'input': lambda: randn(batch, nstate, length),
            'grouped': lambda: randn(batch, 2, nstate, length),
            'per_channel': lambda: randn(batch, dim, nstate, length),
        }[layout]()

    A = -torch.rand(dim, nstate, generator=generator, dtype=dtype) * 4 - 0.1
    return dict(
        u=randn(batch, dim, length),
        delta=randn(batch, dim, length) * delta_scale,
        A=A,
        B=state_matrix(b_layout),
        C=state_matrix(c_layout),
        D=randn(dim),
        z=randn(batch, dim, length),
        delta_bias=randn(dim) * 0.5)


LAYOUTS = [('shared', 'shared'), ('input', 'input'), ('grouped', 'grouped'),
           ('shared', 'input'), ('grouped', 'per_channel'),
           ('input', 'grouped')]


@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize('b_layout,c_layout', LAYOUTS)
def test_forward_and_gradients_match_the_recurrence(backend, b_layout,
                                                    c_layout):
    inputs = _inputs(b_layout, c_layout)
    for tensor in inputs.values():
        tensor.requires_grad_()
    ref_y, ref_last = recurrence(**inputs, delta_softplus=True)
    y, last = selective_scan(
        **inputs, delta_softplus=True, return_last_state=True,
        backend=backend)
    assert y.dtype == torch.float32 and y.shape == ref_y.shape
    assert last.shape == (2, 8, 4)
    assert _relative_error(y, ref_y) < 1e-5
    assert _relative_error(last, ref_last) < 1e-5

    # gradients of a loss on both outputs (the last state's gradient is
    # honoured, unlike mamba-ssm)
    generator = torch.Generator().manual_seed(1)
    w_y = torch.randn(y.shape, generator=generator)
    w_last = torch.randn(last.shape, generator=generator)
    names = list(inputs)
    grads = torch.autograd.grad(
        (y * w_y).sum() + (last * w_last).sum(), list(inputs.values()))
    ref_grads = torch.autograd.grad(
        (ref_y * w_y.double()).sum() + (ref_last * w_last.double()).sum(),
        list(inputs.values()))
    for name, grad, ref_grad in zip(names, grads, ref_grads):
        assert grad.shape == inputs[name].shape, name
        assert _relative_error(grad, ref_grad) < 1e-4, name


@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize('b_layout,c_layout',
                         [('shared', 'input'), ('grouped', 'grouped')])
def test_gradcheck_float64(backend, b_layout, c_layout):
    inputs = _inputs(b_layout, c_layout, batch=2, dim=4, nstate=3, length=9,
                     dtype=torch.float64)
    names = list(inputs)
    tensors = [t.requires_grad_() for t in inputs.values()]

    def function(*args):
        y, last = selective_scan(
            **dict(zip(names, args)), delta_softplus=True,
            return_last_state=True, backend=backend)
        return y, last

    assert torch.autograd.gradcheck(function, tensors, atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize('delta_scale', [1e-6, 1e-2, 1.0, 50.0])
def test_delta_from_tiny_to_large(delta_scale):
    """Δ = |raw| · scale, no softplus: from steps that barely decay (the state
    sums ~all inputs) to steps where exp(Δ A) underflows to 0."""
    inputs = _inputs('input', 'input', length=64, seed=3)
    inputs['delta'] = inputs['delta'].abs() * delta_scale
    inputs.pop('delta_bias')
    ref_y, _ = recurrence(**inputs)
    for backend in BACKENDS:
        y = selective_scan(**inputs, backend=backend)
        assert torch.isfinite(y).all()
        assert _relative_error(y, ref_y) < 1e-5, backend


def test_long_sequence_has_no_overflow_and_matches_the_recurrence():
    """L = 16,384 with Mamba-like and extreme Δ in one batch: Σ Δ|A| reaches
    ~1e6, far past where a cumulative-sum closed form overflows."""
    length = 16384
    generator = torch.Generator().manual_seed(4)
    inputs = _inputs('input', 'input', batch=1, dim=4, nstate=4,
                     length=length, seed=4)
    inputs['delta'] = torch.stack([
        torch.full((length, ), 1e-4),  # tiny
        torch.rand(length, generator=generator) * 0.1,  # Mamba's init range
        torch.rand(length, generator=generator) * 3,
        torch.full((length, ), 20.0),  # exp(Δ A) underflows
    ]).unsqueeze(0)
    inputs.pop('delta_bias')
    for tensor in inputs.values():
        tensor.requires_grad_()
    ref_y, ref_last = recurrence(**inputs)
    outputs = {}
    for backend in BACKENDS:
        y, last = selective_scan(**inputs, return_last_state=True,
                                 backend=backend)
        assert torch.isfinite(y).all() and torch.isfinite(last).all()
        assert _relative_error(y, ref_y) < 1e-4, backend
        assert _relative_error(last, ref_last) < 1e-4, backend
        grads = torch.autograd.grad(y.square().mean(),
                                    list(inputs.values()))
        assert all(torch.isfinite(g).all() for g in grads), backend
        outputs[backend] = grads
    if len(outputs) == 2:
        for grad, other in zip(*outputs.values()):
            assert _relative_error(grad, other) < 1e-4


def test_half_precision_inputs_compute_in_float32():
    inputs = _inputs('input', 'input', length=16)
    ref_y, _ = recurrence(**{k: v.bfloat16().float() for k, v in
                             inputs.items()})
    y = selective_scan(**{k: v.bfloat16() for k, v in inputs.items()})
    assert y.dtype == torch.bfloat16
    assert _relative_error(y, ref_y) < 1e-2  # bfloat16 output rounding


@pytest.mark.parametrize('length', [1, 2, 3, 7, 64, 100])
def test_linear_scan_any_length(length):
    generator = torch.Generator().manual_seed(length)
    decay = torch.rand(3, length, 2, generator=generator, dtype=torch.float64)
    drive = torch.randn(3, length, 2, generator=generator,
                        dtype=torch.float64)
    h, expected = torch.zeros(3, 2, dtype=torch.float64), []
    for t in range(length):
        h = decay[:, t] * h + drive[:, t]
        expected.append(h)
    torch.testing.assert_close(
        linear_scan(decay, drive), torch.stack(expected, dim=1))


def test_auto_backend_and_errors():
    if load_cpu_kernel() is not None:
        assert resolve_backend('auto', torch.device('cpu')) == 'cpu_kernel'
    else:
        assert resolve_backend('auto', torch.device('cpu')) == 'torch'
    with pytest.raises(ValueError, match='needs CUDA'):
        resolve_backend('mamba_ssm', torch.device('cpu'))
    with pytest.raises(ValueError, match='backend must be one of'):
        resolve_backend('triton', torch.device('cpu'))
    if not torch.cuda.is_available():
        assert resolve_backend('auto', torch.device('cpu')) != 'mamba_ssm'
    inputs = _inputs('input', 'input')
    with pytest.raises(ValueError, match=r'B must be .* got \(2, 5, 37\)'):
        selective_scan(**dict(inputs, B=torch.randn(2, 5, 37)))
    with pytest.raises(ValueError, match=r'G dividing 8; got \(2, 3, 4, 37\)'):
        selective_scan(**dict(inputs, C=torch.randn(2, 3, 4, 37)))
    with pytest.raises(ValueError, match=r'A must be \(d_inner=8'):
        selective_scan(**dict(inputs, A=torch.randn(4, 4)))
    with pytest.raises(ValueError, match='delta must have the shape of u'):
        selective_scan(**dict(inputs, delta=torch.randn(2, 8, 36)))


@pytest.mark.skipif(
    not (torch.cuda.is_available() and mamba_ssm_available()),
    reason='mamba-ssm CUDA kernels are not installed here')
def test_mamba_ssm_backend_matches_the_cpu_backends():
    inputs = _inputs('grouped', 'grouped')
    y_cpu = selective_scan(**inputs, delta_softplus=True, backend='torch')
    y_cuda = selective_scan(
        **{k: v.cuda() for k, v in inputs.items()}, delta_softplus=True,
        backend='auto')
    assert _relative_error(y_cuda.cpu(), y_cpu) < 1e-4


def test_module_records_the_macs_of_its_last_call():
    scan = SelectiveScan()
    inputs = _inputs('input', 'input')
    out = scan(**inputs, delta_softplus=True)
    torch.testing.assert_close(out, selective_scan(**inputs,
                                                   delta_softplus=True))
    assert scan.macs == selective_scan_macs(2, 8, 37, 4) == 2 * 8 * 37 * 19
