"""The selective scan of Mamba (S6; Gu & Dao, 2023), on CPU and CUDA.

:func:`selective_scan` has the signature and semantics of mamba-ssm's
``selective_scan_fn`` (``mamba_ssm/ops/selective_scan_interface.py``, whose
``selective_scan_ref`` is the specification), for a real ``A``. For every
batch element ``b``, channel ``d`` and state ``n``, with
``Δ = softplus(delta + delta_bias)`` (each part optional):

.. math::

    h_t &= \\exp(Δ_t A_{dn})\\, h_{t-1} + Δ_t B_{t,n}\\, u_t,
    \\qquad h_{-1} = 0 \\qquad (1)\\\\
    y_t &= \\sum_n C_{t,n}\\, h_{t,n} + D_d\\, u_t \\qquad (2)\\\\
    \\mathrm{out}_t &= y_t \\cdot \\mathrm{silu}(z_t) \\qquad (3)

Shapes (``batch``, ``d_inner`` = D, ``d_state`` = N, length L):

- ``u``, ``delta``, ``z``: (batch, D, L); ``A``: (D, N), real (``A < 0`` for
  a decaying state, e.g. ``-exp(A_log)``); ``D``, ``delta_bias``: (D,).
- ``B`` and ``C``, each independently: *shared* (D, N), the same for every
  step; *input-dependent* (batch, N, L); or *grouped* (batch, G, N, L), where
  channel ``d`` reads group ``d // (D / G)`` (VMamba's four scan directions
  are four groups).
- returns ``out`` (batch, D, L) in the dtype of ``u``, and with
  ``return_last_state=True`` also ``h_{L-1}`` (batch, D, N) in the compute
  dtype (float32, or float64 for float64 inputs).

Backends (``backend=``):

- ``'mamba_ssm'``: mamba-ssm's fused CUDA kernel. Used by ``'auto'`` when the
  tensors are on a GPU and ``mamba_ssm`` imports; imported inside the call
  only, so nothing here needs the package (an installed mamba-ssm that fails
  to import is reported once in a warning, see :func:`mamba_ssm_available`).
- ``'cpu_kernel'``: dunseg's own fused kernel, C++
  (``csrc/selective_scan_cpu.cpp`` next to this module) compiled on first use
  with ``torch.utils.cpp_extension.load_inline`` (needs a C++ compiler with
  OpenMP and ninja; one to two minutes; cached under
  ``TORCH_EXTENSIONS_DIR``, keyed by the source, the flags and the CPU).
  It reads mamba-ssm's layouts directly and does all of eqs. (1)-(3) (Δ
  bias and softplus, D skip, silu gate) in one pass. Each thread walks the
  L steps of a block of 16 channels of one batch element, one SIMD lane per
  channel, with that block's N states in L1 cache; blocks run in parallel
  (small scans inline). The exponential is a branch-free Cephes polynomial
  (about 1 ulp), so the lanes vectorise. The forward keeps no state: the
  backward recomputes a block's L × N states into a per-thread buffer and
  walks back along the adjoint recursion (4) below, so memory stays near
  the size of the inputs, far below the reference's (batch, D, L, N)
  tensors. Used by ``'auto'`` on CPU whenever it compiles. Speed and memory:
  ``tools/experiments/benchmark_scan.py``, ``docs/mamba.md``.
- ``'torch'``: plain PyTorch ops, any device. Recursion (1) is an
  associative scan on pairs ``(a, b) ∘ (a', b') = (a a', a' b + b')``,
  evaluated by odd-even reduction: combine neighbouring pairs, scan the
  half-length sequence recursively, fill in the even positions; log2(L)
  levels, O(L) work. It only multiplies and adds numbers ``a = exp(Δ A)``
  in [0, 1], so it is as stable as the sequential recursion at any L and any
  Δ (the closed form ``h_t = e^{S_t} Σ e^{-S_s} Δ_s B_s u_s`` with cumulated
  ``S`` overflows once ``Σ Δ |A|`` passes ~88 in float32, and its chunked
  variants need T × T decay matrices per (d, n), which cost T times the
  work here because A differs per (d, n)). It materialises (batch, D, L, N)
  tensors, so it is about as slow as the reference loop (and 10-30 times
  slower than ``'cpu_kernel'``); it is the fallback where no compiler is
  available, and the GPU path without mamba-ssm.

Gradients (both dunseg backends) follow the adjoint of (1): with ``g_t`` the
gradient of the loss w.r.t. ``h_t`` (including later steps),

.. math::

    g_t = C_t\\, \\bar y_t + \\exp(Δ_{t+1} A)\\, g_{t+1}, \\qquad
    \\partial(Δ_t A) = g_t \\exp(Δ_t A)\\, h_{t-1}, \\qquad
    \\partial(Δ_t B_t u_t) = g_t \\qquad (4)

where ``ȳ_t`` is the gradient of ``y_t`` before the ``D`` skip. Unlike
mamba-ssm, a gradient flowing into the returned last state is honoured
(it initialises ``g_{L-1}``); mamba-ssm ignores it.
"""
import hashlib
import logging
import os
import platform
import threading
import warnings
from typing import Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

SCAN_BACKENDS = ('auto', 'mamba_ssm', 'cpu_kernel', 'torch')

# ---------------------------------------------------------------------------
# The C++ kernel ('cpu_kernel').
# ---------------------------------------------------------------------------
# Its C++ source, read and compiled on first use (see load_cpu_kernel).
_CPU_KERNEL_PATH = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), 'csrc',
    'selective_scan_cpu.cpp')

_cpu_kernel = None
_cpu_kernel_error: Optional[str] = None
_cpu_kernel_lock = threading.Lock()


def _cpu_kernel_flags() -> list:
    """Optimisation flags: the kernel is built on the machine that runs it,
    so it targets that CPU's vector units (``-march=native``)."""
    return ['-O3', '-march=native', '-fopenmp', '-fopenmp-simd',
            '-fno-math-errno']


def _cpu_identity() -> str:
    """CPU model and feature flags, part of the build's cache name, so that a
    cache directory shared by different machines never serves a binary
    built for another CPU's instruction set."""
    try:
        with open('/proc/cpuinfo') as cpuinfo:
            lines = [
                line for line in cpuinfo
                if line.startswith(('model name', 'flags', 'Features'))
            ]
        return ''.join(sorted(set(lines)))
    except OSError:
        return platform.processor() + platform.machine()


def _import_load_inline():
    """``torch.utils.cpp_extension.load_inline``, imported without the
    warning its import logs on machines without CUDA (it looks for a CUDA
    toolkit this CPU kernel does not need)."""
    logger = logging.getLogger('torch.utils.cpp_extension')
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        from torch.utils.cpp_extension import load_inline
    finally:
        logger.setLevel(level)
    return load_inline


def load_cpu_kernel():
    """Compile (first call on a machine, about a minute) and load the kernel.

    Returns the extension module, or None if it cannot be built (no C++
    compiler or ninja, or the source file missing from the installation);
    the reason is then in :func:`cpu_kernel_error`.
    The build is cached by ``torch.utils.cpp_extension`` under a name that
    includes a hash of the source and flags.
    """
    global _cpu_kernel, _cpu_kernel_error
    if _cpu_kernel is not None or _cpu_kernel_error is not None:
        return _cpu_kernel
    with _cpu_kernel_lock:
        if _cpu_kernel is not None or _cpu_kernel_error is not None:
            return _cpu_kernel
        flags = _cpu_kernel_flags()
        try:
            with open(_CPU_KERNEL_PATH) as source_file:
                source = source_file.read()
            digest = hashlib.sha1(
                (source + ' '.join(flags) +
                 _cpu_identity()).encode()).hexdigest()[:10]
            load_inline = _import_load_inline()
            _cpu_kernel = load_inline(
                name=f'dunseg_selective_scan_{digest}',
                cpp_sources=source,
                functions=['scan_forward', 'scan_backward'],
                extra_cflags=flags,
                extra_ldflags=['-fopenmp'],
                verbose=bool(os.environ.get('DUNSEG_VERBOSE_BUILD')))
        except Exception as error:  # no source, compiler, ninja or linker
            _cpu_kernel_error = f'{type(error).__name__}: {error}'
            warnings.warn(
                'dunseg selective scan: the C++ CPU kernel could not be built '
                f'({_cpu_kernel_error.splitlines()[0][:300]}); falling back '
                "to backend='torch' (same results, 10-30 times slower). "
                'Install a C++ compiler and ninja to get the fast kernel.')
    return _cpu_kernel


def cpu_kernel_error() -> Optional[str]:
    """Why the CPU kernel could not be built, or None."""
    return _cpu_kernel_error


# Set once a broken mamba-ssm installation has been reported.
_mamba_ssm_warned = False


def mamba_ssm_available() -> bool:
    """True if mamba-ssm's CUDA selective scan imports.

    mamba-ssm is optional: when it is not installed (``mamba_ssm`` itself
    not found) this is False without a word. When it is installed but does
    not import (e.g. a build without its compiled ``selective_scan_cuda``
    extension, a missing dependency, a library built for another torch or
    CUDA), it is False too, and the import error is reported once per
    process in a warning, since backend ``'auto'`` then runs the slower
    PyTorch scan on CUDA.
    """
    global _mamba_ssm_warned
    try:
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn  # noqa: F401
    except ModuleNotFoundError as error:
        if error.name == 'mamba_ssm':  # not installed
            return False
        failure = error
    except Exception as error:  # e.g. an undefined symbol in the extension
        failure = error
    else:
        return True
    if not _mamba_ssm_warned:
        _mamba_ssm_warned = True
        warnings.warn(
            'dunseg selective scan: mamba-ssm is installed but does not '
            f'import ({type(failure).__name__}: '
            f'{str(failure).splitlines()[0][:300] if str(failure) else ""}); '
            "backend='auto' uses the PyTorch scan (backend='torch') on CUDA "
            'instead of its fused kernel. Reinstall mamba-ssm for this torch '
            'and CUDA (e.g. `pip install mamba-ssm --no-build-isolation`), '
            'or uninstall it to silence this warning.')
    return False


def resolve_backend(backend: str, device: torch.device) -> str:
    """The backend :func:`selective_scan` runs for ``backend`` on ``device``.

    ``'auto'``: ``'mamba_ssm'`` on CUDA when it imports, ``'cpu_kernel'`` on
    CPU when it builds, else ``'torch'``.
    """
    if backend not in SCAN_BACKENDS:
        raise ValueError(
            f'selective_scan: backend must be one of {SCAN_BACKENDS}, '
            f'got {backend!r}')
    if backend == 'auto':
        if device.type == 'cuda' and mamba_ssm_available():
            return 'mamba_ssm'
        if device.type == 'cpu' and load_cpu_kernel() is not None:
            return 'cpu_kernel'
        return 'torch'
    if backend == 'mamba_ssm' and device.type != 'cuda':
        raise ValueError("selective_scan: backend='mamba_ssm' needs CUDA "
                         f'tensors, got {device}; use backend=\'auto\'')
    if backend == 'cpu_kernel':
        if device.type != 'cpu':
            raise ValueError("selective_scan: backend='cpu_kernel' needs CPU "
                             f'tensors, got {device}')
        if load_cpu_kernel() is None:
            raise RuntimeError(
                "selective_scan: backend='cpu_kernel' could not be built: "
                f'{_cpu_kernel_error}')
    return backend


# ---------------------------------------------------------------------------
# The pure PyTorch backend ('torch').
# ---------------------------------------------------------------------------
def linear_scan(decay: torch.Tensor, drive: torch.Tensor) -> torch.Tensor:
    """``h_t = decay_t h_{t-1} + drive_t`` (``h_{-1} = 0``) along dim -2.

    Odd-even reduction of the associative operator ``(a, b) ∘ (a', b') =
    (a a', a' b + b')``: combine steps (2i, 2i+1), scan the half-length
    sequence (which yields h at the odd steps), then ``h_{2i} = a_{2i}
    h_{2i-1} + b_{2i}``. log2(L) levels of O(L) tensor ops, no loop over
    time steps.

    Args:
        decay, drive (Tensor): (..., L, N), same shape.

    Returns:
        Tensor: h, (..., L, N).
    """
    length = drive.shape[-2]
    if length == 1:
        return drive.clone()
    if length % 2:
        head = linear_scan(decay[..., :-1, :], drive[..., :-1, :])
        tail = torch.addcmul(drive[..., -1:, :], decay[..., -1:, :],
                             head[..., -1:, :])
        return torch.cat([head, tail], dim=-2)
    pairs_a = decay.unflatten(-2, (length // 2, 2))
    pairs_b = drive.unflatten(-2, (length // 2, 2))
    a_even, a_odd = pairs_a[..., 0, :], pairs_a[..., 1, :]
    b_even, b_odd = pairs_b[..., 0, :], pairs_b[..., 1, :]
    h_odd = linear_scan(a_odd * a_even, torch.addcmul(b_odd, a_odd, b_even))
    h = torch.empty_like(pairs_b)
    h[..., 1, :] = h_odd
    h[..., 0, 0, :] = b_even[..., 0, :]
    torch.addcmul(b_even[..., 1:, :], a_even[..., 1:, :], h_odd[..., :-1, :],
                  out=h[..., 1:, 0, :])
    return h.flatten(-3, -2)


def _per_channel(X: torch.Tensor, groups: int, dim: int) -> torch.Tensor:
    """B or C as (batch, G, 1, L, N), or shared as (1, G, D/G, 1, N), to
    broadcast against the (batch, G, D/G, L, N) states."""
    if X.dim() == 2:
        return X.view(1, groups, dim // groups, 1, X.shape[-1])
    return X.unsqueeze(2)


def _torch_states(u, delta, A, B, C):
    """Decays exp(ΔA) and states h of eq. (1) as (batch, G, D/G, L, N)."""
    batch, dim, length = u.shape
    groups = _num_groups(B, C)
    shape = (batch, groups, dim // groups, length, 1)
    delta5 = delta.view(shape)
    decay = torch.exp(delta5 * A.view(1, groups, dim // groups, 1, -1))
    drive = (delta5 * u.view(shape)) * _per_channel(B, groups, dim)
    return decay, linear_scan(decay, drive)


def _num_groups(B: torch.Tensor, C: torch.Tensor) -> int:
    """G of the grouped one(s) of B and C (equal, see selective_scan), or 1."""
    return next((X.shape[1] for X in (B, C) if X.dim() == 4), 1)


def _reduce_to(grad5: torch.Tensor, X: torch.Tensor, dim: int) -> torch.Tensor:
    """Sum a (batch, G, D/G, L, N) gradient to the layout of B or C."""
    if X.dim() == 2:
        return grad5.sum(dim=(0, 3)).reshape(dim, -1)
    groups = X.shape[1]
    batch, g5, per, length, nstate = grad5.shape
    grad = grad5.reshape(batch, groups, (g5 * per) // groups, length, nstate)
    return grad.sum(2)


def _torch_forward(u, delta, A, B, C):
    batch, dim, length = u.shape
    _, states = _torch_states(u, delta, A, B, C)
    y = (states * _per_channel(C, states.shape[1], dim)).sum(-1)
    last = states[..., -1, :]
    return y.reshape(batch, dim, length), last.reshape(batch, dim, -1)


def _torch_backward(u, delta, A, B, C, dy, dlast):
    batch, dim, length = u.shape
    decay, states = _torch_states(u, delta, A, B, C)
    groups = decay.shape[1]
    shape = (batch, groups, dim // groups, length, 1)
    C5, B5 = _per_channel(C, groups, dim), _per_channel(B, groups, dim)
    dy5 = dy.view(shape)
    injected = dy5 * C5
    if dlast is not None:
        injected[..., -1, :] += dlast.view(batch, groups, dim // groups, -1)
    # g_t = injected_t + decay_{t+1} g_{t+1}: the same scan run backwards
    next_decay = torch.cat(
        [decay[..., 1:, :], torch.zeros_like(decay[..., :1, :])], dim=-2)
    adjoint = linear_scan(next_decay.flip(-2), injected.flip(-2)).flip(-2)
    del next_decay, injected
    prev_states = torch.cat(
        [torch.zeros_like(states[..., :1, :]), states[..., :-1, :]], dim=-2)
    dlog = adjoint * prev_states * decay  # d loss / d(Δ A)
    del prev_states, decay
    delta5, u5 = delta.view(shape), u.view(shape)
    A5 = A.view(1, groups, dim // groups, 1, -1)
    adjoint_B = (adjoint * B5).sum(-1, keepdim=True)
    ddelta = (dlog * A5).sum(-1, keepdim=True) + u5 * adjoint_B
    du = delta5 * adjoint_B
    dA = (dlog * delta5).sum(dim=(0, 3)).reshape(dim, -1)
    dB = _reduce_to(adjoint * (delta5 * u5), B, dim)
    dC = _reduce_to(dy5 * states, C, dim)
    return (du.reshape(batch, dim, length), ddelta.reshape(batch, dim, length),
            dA, dB, dC)


# ---------------------------------------------------------------------------
# Autograd. The C++ kernel does all of eqs. (1)-(3) (Δ bias and softplus, D
# skip, silu gate included) in mamba-ssm's layouts, so no (batch, D, L)
# tensor is copied around it; the torch backend runs the core recursion
# (1)-(2) without D in a Function and the rest as tensor ops.
# ---------------------------------------------------------------------------
class _CpuKernelScan(torch.autograd.Function):
    """Inputs contiguous, one dtype: u, Δ, z (batch, D, L); A (D, N); B, C
    shared (D, N) or (batch, G, N, L); D, delta_bias (D,) or None."""

    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, z, delta_bias, delta_softplus):
        ctx.set_materialize_grads(False)  # unused outputs give None
        empty = u.new_empty(0)
        args = (u, delta, A, B, C, empty if D is None else D,
                empty if z is None else z,
                empty if delta_bias is None else delta_bias)
        out, last = load_cpu_kernel().scan_forward(*args, delta_softplus)
        ctx.delta_softplus = delta_softplus
        ctx.present = (D is not None, z is not None, delta_bias is not None)
        ctx.save_for_backward(*args)
        return out, last

    @staticmethod
    def backward(ctx, dout, dlast):
        u, delta, A, B, C, D, z, delta_bias = ctx.saved_tensors
        dout = torch.zeros_like(u) if dout is None else dout.contiguous()
        dlast = u.new_empty(0) if dlast is None else dlast.contiguous()
        du, ddelta, dA, dB, dC, dD, dz, dbias = \
            load_cpu_kernel().scan_backward(u, delta, A, B, C, D, z,
                                            delta_bias, ctx.delta_softplus,
                                            dout, dlast)
        has_D, has_z, has_bias = ctx.present
        return (du, ddelta, dA, dB, dC, dD if has_D else None,
                dz if has_z else None, dbias if has_bias else None, None)


class _TorchScanCore(torch.autograd.Function):
    """Eqs. (1)-(2) without D: (u, Δ, A, B, C) -> (y, h_{L-1}); u, Δ
    (batch, D, L), A (D, N), B, C shared (D, N) or (batch, G, L, N)."""

    @staticmethod
    def forward(ctx, u, delta, A, B, C):
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(u, delta, A, B, C)
        return _torch_forward(u, delta, A, B, C)

    @staticmethod
    def backward(ctx, dy, dlast):
        u, delta, A, B, C = ctx.saved_tensors
        dy = torch.zeros_like(u) if dy is None else dy.contiguous()
        return _torch_backward(u, delta, A, B, C, dy, dlast)


def _check_inputs(u, delta, A, B, C, D, z, delta_bias) -> None:
    if u.dim() != 3:
        raise ValueError(f'selective_scan: u must be (batch, d_inner, L), '
                         f'got shape {tuple(u.shape)}')
    batch, dim, length = u.shape
    if delta.shape != u.shape:
        raise ValueError(f'selective_scan: delta must have the shape of u '
                         f'{tuple(u.shape)}, got {tuple(delta.shape)}')
    if A.dim() != 2 or A.shape[0] != dim:
        raise ValueError(f'selective_scan: A must be (d_inner={dim}, '
                         f'd_state), got {tuple(A.shape)}')
    if A.is_complex():
        raise NotImplementedError(
            'selective_scan: complex A is not supported; use a real A '
            '(Mamba, VMamba and Vim all do)')
    nstate = A.shape[1]
    for name, X in (('B', B), ('C', C)):
        if X.dim() == 2:
            ok = X.shape == (dim, nstate)
        elif X.dim() == 3:
            ok = X.shape == (batch, nstate, length)
        elif X.dim() == 4:
            ok = (X.shape[0] == batch and X.shape[2:] == (nstate, length)
                  and X.shape[1] > 0 and dim % X.shape[1] == 0)
        else:
            ok = False
        if not ok:
            raise ValueError(
                f'selective_scan: {name} must be shared (d_inner={dim}, '
                f'd_state={nstate}), input-dependent (batch={batch}, '
                f'{nstate}, L={length}) or grouped (batch, G, {nstate}, '
                f'{length}) with G dividing {dim}; got {tuple(X.shape)}')
    for name, X in (('D', D), ('delta_bias', delta_bias)):
        if X is not None and X.shape != (dim, ):
            raise ValueError(f'selective_scan: {name} must be (d_inner='
                             f'{dim},), got {tuple(X.shape)}')
    if z is not None and z.shape != u.shape:
        raise ValueError(f'selective_scan: z must have the shape of u '
                         f'{tuple(u.shape)}, got {tuple(z.shape)}')


def _as_groups(X: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Shared (D, N) stays; (batch, N, L) and (batch, G, N, L) become the
    contiguous (batch, G, L, N) layout the dunseg backends read."""
    X = X.to(dtype)
    if X.dim() == 2:
        return X.contiguous()
    if X.dim() == 3:
        X = X.unsqueeze(1)
    return X.transpose(-1, -2).contiguous()


def _torch_groups_compatible(B: torch.Tensor, C: torch.Tensor) -> bool:
    grouped = [X.shape[1] for X in (B, C) if X.dim() == 4]
    return len(set(grouped)) <= 1


def selective_scan(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: Optional[torch.Tensor] = None,
    z: Optional[torch.Tensor] = None,
    delta_bias: Optional[torch.Tensor] = None,
    delta_softplus: bool = False,
    return_last_state: bool = False,
    backend: str = 'auto'
) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
    """Selective scan, eqs. (1)-(3) of the module docstring.

    Same arguments and results as mamba-ssm's ``selective_scan_fn`` (real
    ``A``), plus ``backend`` (``'auto'``, ``'mamba_ssm'``, ``'cpu_kernel'``,
    ``'torch'``; see the module docstring). Inputs of any floating dtype are
    computed in float32 (float64 stays float64), as mamba-ssm does.
    """
    _check_inputs(u, delta, A, B, C, D, z, delta_bias)
    backend = resolve_backend(backend, u.device)
    if backend == 'mamba_ssm':
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
        return selective_scan_fn(u, delta, A, B, C, D, z, delta_bias,
                                 delta_softplus, return_last_state)
    dtype_in = u.dtype
    compute = torch.float64 if dtype_in == torch.float64 else torch.float32

    def prepare(X):
        return None if X is None else X.to(compute).contiguous()

    if backend == 'cpu_kernel':
        B, C = (X.unsqueeze(1) if X.dim() == 3 else X for X in (B, C))
        out, last_state = _CpuKernelScan.apply(
            prepare(u), prepare(delta), prepare(A), prepare(B), prepare(C),
            prepare(D), prepare(z), prepare(delta_bias), delta_softplus)
    else:
        delta = delta.to(compute)
        if delta_bias is not None:
            delta = delta + delta_bias.to(compute).unsqueeze(-1)
        if delta_softplus:
            delta = F.softplus(delta)
        u_c = u.to(compute)
        B_g, C_g = _as_groups(B, compute), _as_groups(C, compute)
        if not _torch_groups_compatible(B_g, C_g):
            # B and C grouped differently: both to one group per channel
            dim = u.shape[1]
            B_g, C_g = (X if X.dim() == 2 else X.repeat_interleave(
                dim // X.shape[1], dim=1) for X in (B_g, C_g))
        out, last_state = _TorchScanCore.apply(
            u_c.contiguous(), delta.contiguous(), prepare(A), B_g, C_g)
        if D is not None:
            out = torch.addcmul(out, u_c, D.to(compute).unsqueeze(-1))
        if z is not None:
            out = out * F.silu(z.to(compute))
    out = out.to(dtype_in)
    return (out, last_state) if return_last_state else out


def selective_scan_macs(batch: int, d_inner: int, length: int, d_state: int,
                        has_D: bool = True, has_z: bool = True) -> int:
    """Multiply-accumulates of one selective scan, counted per step and state.

    Per (batch, channel, step, state): ``Δ·A`` (1), ``exp(Δ A)·h`` plus
    ``(Δ u)·B`` (2) and ``C·h`` (1) = 4 MACs, plus ``Δ·u`` once per (batch,
    channel, step); the D skip and the silu(z) gate add one each per
    (batch, channel, step). The exponential is not counted (thop counts no
    activations either). This is the rule :class:`SelectiveScan` reports to
    ``dunseg.utils.complexity``.
    """
    per_position = 4 * d_state + 1 + int(has_D) + int(has_z)
    return batch * d_inner * length * per_position


class SelectiveScan(nn.Module):
    """:func:`selective_scan` as a module without parameters.

    The Mamba layers call the scan through this module so that forward hooks
    (``dunseg.utils.complexity``) see its shapes and count its MACs with
    :func:`selective_scan_macs`; ``macs`` holds the count of the last call.

    Args:
        backend (str): Passed to :func:`selective_scan`.
    """

    def __init__(self, backend: str = 'auto') -> None:
        super().__init__()
        if backend not in SCAN_BACKENDS:
            raise ValueError(f'SelectiveScan: backend must be one of '
                             f'{SCAN_BACKENDS}, got {backend!r}')
        self.backend = backend
        self.macs = 0

    def forward(self, u, delta, A, B, C, D=None, z=None, delta_bias=None,
                delta_softplus=False, return_last_state=False):
        batch, d_inner, length = u.shape
        self.macs = selective_scan_macs(batch, d_inner, length, A.shape[1],
                                        D is not None, z is not None)
        return selective_scan(u, delta, A, B, C, D, z, delta_bias,
                              delta_softplus, return_last_state,
                              backend=self.backend)

    def count_macs(self, inputs: tuple, output) -> int:
        """MACs of the call just made (``dunseg.utils.complexity`` hook)."""
        return self.macs

    def extra_repr(self) -> str:
        return f'backend={self.backend!r}'
