"""The selective scan of Mamba (S6; Gu & Dao, 2023), on CPU and CUDA.

:func:`selective_scan` has the signature and semantics of mamba-ssm's
``selective_scan_fn`` (``mamba_ssm/ops/selective_scan_interface.py``, whose
``selective_scan_ref`` is the specification), for a real ``A``. For every
batch element ``b``, channel ``d`` and state ``n``, with
``Δ = softplus(delta + delta_bias)`` (each part optional):

.. math::

    h_t &= \\exp(Δ_t A_{dn})\\, h_{t-1} + Δ_t B_{t,n}\\, u_t, \\qquad h_{-1} = 0
    \\qquad (1)\\\\
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
  only, so nothing here needs the package.
- ``'cpu_kernel'``: dunseg's own fused kernel, C++ compiled on first use
  with ``torch.utils.cpp_extension.load_inline`` (needs a C++ compiler and
  ninja; cached under ``TORCH_EXTENSIONS_DIR``). One thread walks the L
  steps of one (b, d) row with the N states in SIMD registers, rows run in
  parallel. The forward keeps no state: the backward recomputes the L × N
  states of a row into a per-thread buffer and walks back (the adjoint
  recursion (4) below), so memory stays at the size of the inputs, far
  below the reference's (batch, D, L, N) tensors. Used by ``'auto'`` on CPU
  whenever it compiles.
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
  tensors, so it is several times slower than ``'cpu_kernel'``; it is the
  fallback where no compiler is available, and the GPU path without
  mamba-ssm.

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
_CPU_KERNEL_SOURCE = r'''
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

// exp for float without branches or calls, so that the loop over the N
// states vectorises: Cody-Waite range reduction x = k ln2 + r, |r| <= ln2/2,
// Cephes' degree-7 minimax polynomial for e^r (about 1 ulp), 2^k through the
// exponent bits. Arguments below -87.33 (where expf leaves the normal range)
// give 0; the recursion only ever needs exp(delta * A) <= 1.
static inline float exp_branchless(float x) {
  const float x_clamped = x < -87.33f ? -87.33f : (x > 88.37f ? 88.37f : x);
  // round to nearest by the 1.5 * 2^23 trick (no call to nearbyint)
  const float shifter = 12582912.0f;
  const float k = (x_clamped * 1.44269504088896341f + shifter) - shifter;
  float r = x_clamped - k * 0.693359375f;
  r = r - k * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(k) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return x < -87.33f ? 0.0f : p * scale;
}
static inline double exp_branchless(double x) { return std::exp(x); }

template <typename T>
struct ScanArgs {
  const T* u; const T* delta; const T* A; const T* B; const T* C;
  int64_t batch, dim, len, nstate;
  int64_t groups_B, groups_C;  // 0 = shared (dim, N)
};

// Pointer to B (or C) for row (b, d) at step t. Shared: (dim, N);
// input-dependent / grouped: (batch, groups, len, N).
template <typename T>
static inline const T* step_ptr(const T* base, int64_t groups, int64_t b,
                                int64_t d, int64_t t, const ScanArgs<T>& s) {
  if (groups == 0) return base + d * s.nstate;
  const int64_t g = d / (s.dim / groups);
  return base + ((b * groups + g) * s.len + t) * s.nstate;
}

// Rows [row_begin, row_end) split into at most num_threads contiguous chunks.
template <typename F>
static void for_each_row_chunk(int64_t rows, const F& fn) {
  const int64_t chunks = std::max<int64_t>(
      1, std::min<int64_t>(at::get_num_threads(), rows));
  at::parallel_for(0, chunks, 1, [&](int64_t c_begin, int64_t c_end) {
    for (int64_t c = c_begin; c < c_end; ++c) {
      fn(c, rows * c / chunks, rows * (c + 1) / chunks);
    }
  });
}

static int64_t num_row_chunks(int64_t rows) {
  return std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), rows));
}

template <typename T>
static void forward_impl(const ScanArgs<T>& s, T* y, T* last) {
  const int64_t N = s.nstate, L = s.len;
  for_each_row_chunk(s.batch * s.dim, [&](int64_t, int64_t r0, int64_t r1) {
    std::vector<T> h(N);
    for (int64_t row = r0; row < r1; ++row) {
      const int64_t b = row / s.dim, d = row % s.dim;
      const T* u = s.u + row * L;
      const T* delta = s.delta + row * L;
      const T* A = s.A + d * N;
      T* y_row = y + row * L;
      std::fill(h.begin(), h.end(), T(0));
      T* hp = h.data();
      for (int64_t t = 0; t < L; ++t) {
        const T dt = delta[t], x = dt * u[t];
        const T* Bt = step_ptr(s.B, s.groups_B, b, d, t, s);
        const T* Ct = step_ptr(s.C, s.groups_C, b, d, t, s);
        T acc = 0;
#pragma omp simd reduction(+ : acc)
        for (int64_t n = 0; n < N; ++n) {
          const T hn = exp_branchless(dt * A[n]) * hp[n] + x * Bt[n];
          hp[n] = hn;
          acc += hn * Ct[n];
        }
        y_row[t] = acc;
      }
      std::memcpy(last + row * N, hp, N * sizeof(T));
    }
  });
}

template <typename T>
static void backward_impl(const ScanArgs<T>& s, const T* dy, const T* dlast,
                          T* du, T* ddelta, T* dA_rows, T* dB, T* dC) {
  // dA_rows: (batch, dim, N). dB / dC: shared -> (batch, dim, N) per row;
  // grouped -> (chunks, batch, groups, len, N), one slice per row chunk.
  const int64_t N = s.nstate, L = s.len;
  const int64_t chunk_B = s.groups_B ? s.batch * s.groups_B * L * N : 0;
  const int64_t chunk_C = s.groups_C ? s.batch * s.groups_C * L * N : 0;
  for_each_row_chunk(s.batch * s.dim, [&](int64_t c, int64_t r0, int64_t r1) {
    std::vector<T> states(L * N), decays(L * N), g(N), dA(N), dBs(N), dCs(N);
    const std::vector<T> zeros(N, T(0));
    T* dB_chunk = s.groups_B ? dB + c * chunk_B : nullptr;
    T* dC_chunk = s.groups_C ? dC + c * chunk_C : nullptr;
    for (int64_t row = r0; row < r1; ++row) {
      const int64_t b = row / s.dim, d = row % s.dim;
      const T* u = s.u + row * L;
      const T* delta = s.delta + row * L;
      const T* A = s.A + d * N;
      const T* dy_row = dy + row * L;
      // recompute the states of this row, eq. (1)
      std::fill(g.begin(), g.end(), T(0));  // g doubles as h here
      for (int64_t t = 0; t < L; ++t) {
        const T dt = delta[t], x = dt * u[t];
        const T* Bt = step_ptr(s.B, s.groups_B, b, d, t, s);
        T* st = states.data() + t * N;
        T* dc = decays.data() + t * N;
        T* hp = g.data();
#pragma omp simd
        for (int64_t n = 0; n < N; ++n) {
          const T a = exp_branchless(dt * A[n]);
          const T hn = a * hp[n] + x * Bt[n];
          dc[n] = a;
          hp[n] = hn;
          st[n] = hn;
        }
      }
      // walk back, eq. (4)
      if (dlast) {
        std::memcpy(g.data(), dlast + row * N, N * sizeof(T));
      } else {
        std::fill(g.begin(), g.end(), T(0));
      }
      std::fill(dA.begin(), dA.end(), T(0));
      std::fill(dBs.begin(), dBs.end(), T(0));
      std::fill(dCs.begin(), dCs.end(), T(0));
      for (int64_t t = L - 1; t >= 0; --t) {
        const T dt = delta[t], ut = u[t], dyt = dy_row[t];
        const T* Bt = step_ptr(s.B, s.groups_B, b, d, t, s);
        const T* Ct = step_ptr(s.C, s.groups_C, b, d, t, s);
        const T* ht = states.data() + t * N;
        const T* hprev = t > 0 ? states.data() + (t - 1) * N : zeros.data();
        const T* at = decays.data() + t * N;
        // gradients of grouped B / C go to this chunk's slice, at (b, g, t)
        T* dBt = s.groups_B ? dB_chunk + (step_ptr(s.B, s.groups_B, b, d, t, s) - s.B)
                            : dBs.data();
        T* dCt = s.groups_C ? dC_chunk + (step_ptr(s.C, s.groups_C, b, d, t, s) - s.C)
                            : dCs.data();
        T* gp = g.data();
        T* dAp = dA.data();
        T du_acc = 0, ddelta_acc = 0;
#pragma omp simd reduction(+ : du_acc, ddelta_acc)
        for (int64_t n = 0; n < N; ++n) {
          const T gn = gp[n] + dyt * Ct[n];
          dCt[n] += dyt * ht[n];
          const T dlog = gn * hprev[n] * at[n];  // d loss / d(dt * A)
          dAp[n] += dlog * dt;
          ddelta_acc += dlog * A[n] + gn * ut * Bt[n];
          du_acc += gn * dt * Bt[n];
          dBt[n] += gn * dt * ut;
          gp[n] = at[n] * gn;
        }
        du[row * L + t] = du_acc;
        ddelta[row * L + t] = ddelta_acc;
      }
      std::memcpy(dA_rows + row * N, dA.data(), N * sizeof(T));
      if (!s.groups_B) std::memcpy(dB + row * N, dBs.data(), N * sizeof(T));
      if (!s.groups_C) std::memcpy(dC + row * N, dCs.data(), N * sizeof(T));
    }
  });
}

template <typename T>
static ScanArgs<T> make_args(const torch::Tensor& u, const torch::Tensor& delta,
                             const torch::Tensor& A, const torch::Tensor& B,
                             const torch::Tensor& C) {
  ScanArgs<T> s;
  s.u = u.data_ptr<T>(); s.delta = delta.data_ptr<T>(); s.A = A.data_ptr<T>();
  s.B = B.data_ptr<T>(); s.C = C.data_ptr<T>();
  s.batch = u.size(0); s.dim = u.size(1); s.len = u.size(2);
  s.nstate = A.size(1);
  s.groups_B = B.dim() == 2 ? 0 : B.size(1);
  s.groups_C = C.dim() == 2 ? 0 : C.size(1);
  return s;
}

// u, delta: (batch, dim, len); A: (dim, N); B, C: (dim, N) or
// (batch, groups, len, N); all contiguous, same dtype. Returns (y, last).
std::vector<torch::Tensor> scan_forward(torch::Tensor u, torch::Tensor delta,
                                        torch::Tensor A, torch::Tensor B,
                                        torch::Tensor C) {
  auto y = torch::empty_like(u);
  auto last = torch::empty({u.size(0), u.size(1), A.size(1)}, u.options());
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "dunseg_scan_forward", [&] {
    forward_impl<scalar_t>(make_args<scalar_t>(u, delta, A, B, C),
                           y.data_ptr<scalar_t>(), last.data_ptr<scalar_t>());
  });
  return {y, last};
}

// Returns (du, ddelta, dA, dB, dC) for the core recursion (1)-(2) without D.
std::vector<torch::Tensor> scan_backward(torch::Tensor u, torch::Tensor delta,
                                         torch::Tensor A, torch::Tensor B,
                                         torch::Tensor C, torch::Tensor dy,
                                         torch::Tensor dlast, bool has_dlast) {
  const int64_t batch = u.size(0), dim = u.size(1), len = u.size(2);
  const int64_t N = A.size(1);
  const int64_t chunks = num_row_chunks(batch * dim);
  auto du = torch::empty_like(u);
  auto ddelta = torch::empty_like(u);
  auto dA_rows = torch::empty({batch, dim, N}, u.options());
  auto grad_buffer = [&](const torch::Tensor& X) {
    return X.dim() == 2
        ? torch::empty({batch, dim, N}, u.options())
        : torch::zeros({chunks, batch, X.size(1), len, N}, u.options());
  };
  auto dB = grad_buffer(B);
  auto dC = grad_buffer(C);
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "dunseg_scan_backward", [&] {
    backward_impl<scalar_t>(make_args<scalar_t>(u, delta, A, B, C),
                            dy.data_ptr<scalar_t>(),
                            has_dlast ? dlast.data_ptr<scalar_t>() : nullptr,
                            du.data_ptr<scalar_t>(), ddelta.data_ptr<scalar_t>(),
                            dA_rows.data_ptr<scalar_t>(), dB.data_ptr<scalar_t>(),
                            dC.data_ptr<scalar_t>());
  });
  return {du, ddelta, dA_rows.sum(0), dB.sum(0), dC.sum(0)};
}
'''

_cpu_kernel = None
_cpu_kernel_error: Optional[str] = None
_cpu_kernel_lock = threading.Lock()


def _cpu_kernel_flags() -> list:
    """Optimisation flags; AVX2/FMA only where this CPU has them."""
    flags = ['-O3', '-fopenmp', '-fopenmp-simd', '-fno-math-errno']
    try:
        with open('/proc/cpuinfo') as cpuinfo:
            cpu_flags = set(next(
                line for line in cpuinfo if line.startswith('flags')).split())
    except (OSError, StopIteration):
        cpu_flags = set()
    if platform.machine() in ('x86_64', 'AMD64') and {'avx2', 'fma'} <= cpu_flags:
        flags += ['-mavx2', '-mfma']
    return flags


def load_cpu_kernel():
    """Compile (first call on a machine, about a minute) and load the kernel.

    Returns the extension module, or None if it cannot be built (no C++
    compiler or ninja); the reason is then in :func:`cpu_kernel_error`.
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
        digest = hashlib.sha1(
            (_CPU_KERNEL_SOURCE + ' '.join(flags)).encode()).hexdigest()[:10]
        try:
            from torch.utils.cpp_extension import load_inline
            _cpu_kernel = load_inline(
                name=f'dunseg_selective_scan_{digest}',
                cpp_sources=_CPU_KERNEL_SOURCE,
                functions=['scan_forward', 'scan_backward'],
                extra_cflags=flags,
                extra_ldflags=['-fopenmp'],
                verbose=bool(os.environ.get('DUNSEG_VERBOSE_BUILD')))
        except Exception as error:  # compiler, ninja or linker missing
            _cpu_kernel_error = f'{type(error).__name__}: {error}'
            warnings.warn(
                'dunseg selective scan: the C++ CPU kernel could not be built '
                f'({_cpu_kernel_error.splitlines()[0][:300]}); falling back '
                "to backend='torch' (same results, several times slower). "
                'Install a C++ compiler and ninja to get the fast kernel.')
    return _cpu_kernel


def cpu_kernel_error() -> Optional[str]:
    """Why the CPU kernel could not be built, or None."""
    return _cpu_kernel_error


def mamba_ssm_available() -> bool:
    """True if mamba-ssm's CUDA selective scan imports."""
    try:
        from mamba_ssm.ops.selective_scan_interface import \
            selective_scan_fn  # noqa: F401
    except Exception:  # ImportError, or its missing compiled module
        return False
    return True


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
# Autograd around the core recursion (1)-(2) without D; D, z, delta_bias
# and softplus are plain (cheap) tensor ops around it.
# ---------------------------------------------------------------------------
class _SelectiveScanCore(torch.autograd.Function):

    @staticmethod
    def forward(ctx, u, delta, A, B, C, backend):
        ctx.set_materialize_grads(False)  # unused outputs give None
        if backend == 'cpu_kernel':
            y, last = load_cpu_kernel().scan_forward(u, delta, A, B, C)
        else:
            y, last = _torch_forward(u, delta, A, B, C)
        ctx.backend = backend
        ctx.save_for_backward(u, delta, A, B, C)
        return y, last

    @staticmethod
    def backward(ctx, dy, dlast):
        u, delta, A, B, C = ctx.saved_tensors
        dy = torch.zeros_like(u) if dy is None else dy.contiguous()
        if ctx.backend == 'cpu_kernel':
            has_dlast = dlast is not None
            dlast_arg = dlast.contiguous() if has_dlast else dy.new_empty(0)
            grads = load_cpu_kernel().scan_backward(
                u, delta, A, B, C, dy, dlast_arg, has_dlast)
        else:
            grads = _torch_backward(u, delta, A, B, C, dy, dlast)
        return (*grads, None)


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
    delta = delta.to(compute)
    if delta_bias is not None:
        delta = delta + delta_bias.to(compute).unsqueeze(-1)
    if delta_softplus:
        delta = F.softplus(delta)
    u_c = u.to(compute)
    B_g, C_g = _as_groups(B, compute), _as_groups(C, compute)
    if backend == 'torch' and not _torch_groups_compatible(B_g, C_g):
        # different group counts for B and C: expand both to one per channel
        batch, dim = u.shape[:2]
        B_g, C_g = (X if X.dim() == 2 else X.repeat_interleave(
            dim // X.shape[1], dim=1) for X in (B_g, C_g))
    y, last_state = _SelectiveScanCore.apply(
        u_c.contiguous(), delta.contiguous(), A.to(compute).contiguous(), B_g,
        C_g, backend)
    if D is not None:
        y = torch.addcmul(y, u_c, D.to(compute).unsqueeze(-1))
    if z is not None:
        y = y * F.silu(z.to(compute))
    y = y.to(dtype_in)
    return (y, last_state) if return_last_state else y


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

    def extra_repr(self) -> str:
        return f'backend={self.backend!r}'
