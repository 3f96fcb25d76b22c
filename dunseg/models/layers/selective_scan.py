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
  only, so nothing here needs the package.
- ``'cpu_kernel'``: dunseg's own fused kernel, C++ compiled on first use
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
_CPU_KERNEL_SOURCE = r'''
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <vector>

// Elementary functions without branches or calls, so that the loops over
// the SIMD lanes vectorise (float); double uses <cmath>.
//
// exp: Cody-Waite range reduction x = k ln2 + r, |r| <= ln2/2, Cephes'
// polynomial for e^r (about 1 ulp), 2^k through the exponent bits. Below
// -87.33 (where expf leaves the normal range) it returns 0.
static inline float exp_(float x) {
  const float xc = x < -87.33f ? -87.33f : (x > 88.37f ? 88.37f : x);
  const float shifter = 12582912.0f;  // 1.5 * 2^23: adding it rounds to int
  const float k = (xc * 1.44269504088896341f + shifter) - shifter;
  float r = xc - k * 0.693359375f;
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
// log1p(e) for e in [0, 1]: Cephes' logf polynomial on m = 1 + e (halved
// above sqrt 2), times e / (m - 1) to recover the bits 1 + e rounded away.
static inline float log1p_unit_(float e) {
  const float m = 1.0f + e;
  const bool high = m > 1.41421356f;
  const float k = high ? 1.0f : 0.0f;
  const float y = (high ? 0.5f * m : m) - 1.0f;
  const float z = y * y;
  float p = 7.0376836292e-2f;
  p = p * y - 1.1514610310e-1f;
  p = p * y + 1.1676998740e-1f;
  p = p * y - 1.2420140846e-1f;
  p = p * y + 1.4249322787e-1f;
  p = p * y - 1.6668057665e-1f;
  p = p * y + 2.0000714765e-1f;
  p = p * y - 2.4999993993e-1f;
  p = p * y + 3.3333331174e-1f;
  float log_m = p * y * z;
  log_m += k * -2.12194440e-4f;
  log_m += -0.5f * z;
  log_m += y;
  log_m += k * 0.693359375f;
  const float rounded = m - 1.0f;
  return rounded == 0.0f ? e : log_m * (e / rounded);
}
static inline double exp_(double x) { return std::exp(x); }
static inline double log1p_unit_(double e) { return std::log1p(e); }

template <typename T> static inline T sigmoid_(T x) {
  return T(1) / (T(1) + exp_(-x));
}
// torch.nn.functional.softplus (beta 1, threshold 20) and its derivative
template <typename T> static inline T softplus_(T x) {
  const T positive = x > T(0) ? x : T(0);
  const T negative_abs = x > T(0) ? -x : x;
  return x > T(20) ? x : positive + log1p_unit_(exp_(negative_abs));
}
template <typename T> static inline T softplus_grad_(T x) {
  return x > T(20) ? T(1) : sigmoid_(x);
}

// Channels handled together by one thread, one SIMD lane each.
constexpr int64_t W = 16;

static int64_t num_chunks(int64_t units, int64_t work_per_unit);

// mamba-ssm's layouts: u, delta, z, out: (batch, dim, len); A: (dim, N);
// shared B / C: (dim, N); input-dependent / grouped B / C: (batch, groups,
// N, len); D, delta_bias: (dim); last state: (batch, dim, N).
template <typename T>
struct Scan {
  const T *u, *delta, *A, *B, *C, *Dskip, *z, *bias;
  bool softplus;
  int64_t batch, dim, len, N, groups_B, groups_C;  // groups 0 = shared
  std::vector<int64_t> block_start, block_width;   // blocks of <= W channels

  int64_t units() const { return batch * (int64_t)block_start.size(); }
  int64_t chunks() const { return num_chunks(units(), W * len * N); }
  const T* state_matrix(const T* X, int64_t groups, int64_t b,
                        int64_t d0) const {
    return X + (b * groups + d0 / (dim / groups)) * N * len;
  }
};

template <typename T>
static void make_blocks(Scan<T>& s) {
  // A block may not straddle a group boundary of B or C: its lanes read one
  // B_t / C_t.
  int64_t segment = s.dim;
  if (s.groups_B) segment = std::gcd(segment, s.dim / s.groups_B);
  if (s.groups_C) segment = std::gcd(segment, s.dim / s.groups_C);
  for (int64_t s0 = 0; s0 < s.dim; s0 += segment)
    for (int64_t d0 = s0; d0 < s0 + segment; d0 += W) {
      s.block_start.push_back(d0);
      s.block_width.push_back(std::min(W, s0 + segment - d0));
    }
}

// Chunks of units (batch element, channel block) for the threads: at most
// one per thread, and at least 2^18 state updates each, so that small scans
// run inline (a parallel region costs more than they do, and much more on
// an oversubscribed machine).
static int64_t num_chunks(int64_t units, int64_t work_per_unit) {
  const int64_t by_work = std::max<int64_t>(1, units * work_per_unit >> 18);
  return std::max<int64_t>(
      1, std::min({(int64_t)at::get_num_threads(), units, by_work}));
}

// fn(chunk, unit_begin, unit_end) for contiguous chunks of units.
template <typename F>
static void for_each_chunk(int64_t units, int64_t chunks, const F& fn) {
  if (chunks == 1) {
    fn(0, 0, units);
    return;
  }
  at::parallel_for(0, chunks, 1, [&](int64_t c_begin, int64_t c_end) {
    for (int64_t c = c_begin; c < c_end; ++c)
      fn(c, units * c / chunks, units * (c + 1) / chunks);
  });
}

// (N, W) block of a (dim, N) matrix, zero beyond the block's width.
template <typename T>
static void load_block(const T* src, int64_t N, int64_t d0, int64_t width,
                       T* dst) {
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < W; ++k)
      dst[n * W + k] = k < width ? src[(d0 + k) * N + n] : T(0);
}

// Per-lane inputs of step t: Δ (after bias and softplus), u, x = Δ u.
template <typename T>
static inline void load_step(const Scan<T>& s, int64_t row0, int64_t width,
                             int64_t t, const T* bias, T* dt, T* ut, T* x,
                             T* dt_raw) {
  for (int64_t k = 0; k < W; ++k) {
    const bool on = k < width;
    const int64_t at = (row0 + k) * s.len + t;
    dt_raw[k] = on ? s.delta[at] + bias[k] : T(0);
    ut[k] = on ? s.u[at] : T(0);
  }
  if (s.softplus) {
#pragma omp simd
    for (int64_t k = 0; k < W; ++k) dt[k] = softplus_(dt_raw[k]);
  } else {
    for (int64_t k = 0; k < W; ++k) dt[k] = dt_raw[k];
  }
  for (int64_t k = 0; k < W; ++k) {
    if (k >= width) dt[k] = T(0);  // padding lanes stay inert
    x[k] = dt[k] * ut[k];
  }
}

// Per-block constants: A, shared B / C, D and the Δ bias of the lanes.
template <typename T>
struct Block {
  std::vector<T> A, B, C, Dskip, bias;
  Block(int64_t N) : A(N * W), B(N * W), C(N * W), Dskip(W), bias(W) {}
  void load(const Scan<T>& s, int64_t d0, int64_t width, bool shared_B,
            bool shared_C) {
    load_block(s.A, s.N, d0, width, A.data());
    if (shared_B) load_block(s.B, s.N, d0, width, B.data());
    if (shared_C) load_block(s.C, s.N, d0, width, C.data());
    for (int64_t k = 0; k < W; ++k) {
      Dskip[k] = (s.Dskip && k < width) ? s.Dskip[d0 + k] : T(0);
      bias[k] = (s.bias && k < width) ? s.bias[d0 + k] : T(0);
    }
  }
};

// States of step t from those of t - 1, eq. (1); y_core = C_t h_t.
template <typename T, bool SHARED_B, bool SHARED_C>
static inline void scan_step(const Block<T>& blk, const T* Bvar,
                             const T* Cvar, int64_t N, int64_t len, int64_t t,
                             const T* dt, const T* x, T* h, T* h_out,
                             T* y_core) {
  for (int64_t k = 0; k < W; ++k) y_core[k] = 0;
  for (int64_t n = 0; n < N; ++n) {
    const T b_scalar = SHARED_B ? T(0) : Bvar[n * len + t];
    const T c_scalar = SHARED_C ? T(0) : Cvar[n * len + t];
    const T* bv = blk.B.data() + n * W;
    const T* cv = blk.C.data() + n * W;
    const T* an = blk.A.data() + n * W;
    T* hn = h + n * W;
    T* on = h_out ? h_out + n * W : nullptr;
#pragma omp simd
    for (int64_t k = 0; k < W; ++k) {
      const T state = exp_(dt[k] * an[k]) * hn[k] +
                      x[k] * (SHARED_B ? bv[k] : b_scalar);
      hn[k] = state;
      y_core[k] += state * (SHARED_C ? cv[k] : c_scalar);
    }
    if (on) std::memcpy(on, hn, W * sizeof(T));
  }
}

template <typename T, bool SHARED_B, bool SHARED_C>
static void forward_impl(const Scan<T>& s, T* out, T* last) {
  const int64_t N = s.N, L = s.len;
  const int64_t nblocks = s.block_start.size();
  for_each_chunk(s.units(), s.chunks(),
                 [&](int64_t, int64_t unit0, int64_t unit1) {
    Block<T> blk(N);
    std::vector<T> h(N * W);
    for (int64_t unit = unit0; unit < unit1; ++unit) {
      const int64_t b = unit / nblocks, block = unit % nblocks;
      const int64_t d0 = s.block_start[block], width = s.block_width[block];
      const int64_t row0 = b * s.dim + d0;
      blk.load(s, d0, width, SHARED_B, SHARED_C);
      const T* Bvar =
          SHARED_B ? nullptr : s.state_matrix(s.B, s.groups_B, b, d0);
      const T* Cvar =
          SHARED_C ? nullptr : s.state_matrix(s.C, s.groups_C, b, d0);
      std::fill(h.begin(), h.end(), T(0));
      for (int64_t t = 0; t < L; ++t) {
        T dt[W], ut[W], x[W], dt_raw[W], y[W];
        load_step(s, row0, width, t, blk.bias.data(), dt, ut, x, dt_raw);
        scan_step<T, SHARED_B, SHARED_C>(blk, Bvar, Cvar, N, L, t, dt, x,
                                         h.data(), nullptr, y);
        for (int64_t k = 0; k < W; ++k) y[k] += blk.Dskip[k] * ut[k];
        if (s.z) {
          T zt[W];
          for (int64_t k = 0; k < W; ++k)
            zt[k] = k < width ? s.z[(row0 + k) * L + t] : T(0);
#pragma omp simd
          for (int64_t k = 0; k < W; ++k) y[k] *= zt[k] * sigmoid_(zt[k]);
        }
        for (int64_t k = 0; k < width; ++k) out[(row0 + k) * L + t] = y[k];
      }
      for (int64_t k = 0; k < width; ++k)
        for (int64_t n = 0; n < N; ++n)
          last[(row0 + k) * N + n] = h[n * W + k];
    }
  });
}

struct Grads {
  // du, ddelta (w.r.t. the raw delta), dz: (batch, dim, len);
  // dA_part, shared dB / dC: (batch, dim, N); dD_part, dbias_part:
  // (batch, dim); grouped dB / dC: (chunks, batch, groups, N, len).
  void *du, *ddelta, *dz, *dA, *dB, *dC, *dD, *dbias;
};

template <typename T, bool SHARED_B, bool SHARED_C>
static void backward_impl(const Scan<T>& s, const T* dout, const T* dlast,
                          const Grads& grads) {
  const int64_t N = s.N, L = s.len;
  const int64_t nblocks = s.block_start.size();
  T* du = static_cast<T*>(grads.du);
  T* ddelta = static_cast<T*>(grads.ddelta);
  T* dz = static_cast<T*>(grads.dz);
  T* dA_out = static_cast<T*>(grads.dA);
  T* dB = static_cast<T*>(grads.dB);
  T* dC = static_cast<T*>(grads.dC);
  T* dD_out = static_cast<T*>(grads.dD);
  T* dbias_out = static_cast<T*>(grads.dbias);
  const int64_t chunk_B = SHARED_B ? 0 : s.batch * s.groups_B * N * L;
  const int64_t chunk_C = SHARED_C ? 0 : s.batch * s.groups_C * N * L;
  for_each_chunk(s.units(), s.chunks(),
                 [&](int64_t c, int64_t unit0, int64_t unit1) {
    Block<T> blk(N);
    std::vector<T> states(L * N * W), y_core(L * W), g(N * W);
    std::vector<T> zeros(N * W, T(0)), dA(N * W), dBs(N * W), dCs(N * W);
    for (int64_t unit = unit0; unit < unit1; ++unit) {
      const int64_t b = unit / nblocks, block = unit % nblocks;
      const int64_t d0 = s.block_start[block], width = s.block_width[block];
      const int64_t row0 = b * s.dim + d0;
      blk.load(s, d0, width, SHARED_B, SHARED_C);
      const T* Bvar =
          SHARED_B ? nullptr : s.state_matrix(s.B, s.groups_B, b, d0);
      const T* Cvar =
          SHARED_C ? nullptr : s.state_matrix(s.C, s.groups_C, b, d0);
      T* dBvar = SHARED_B ? nullptr : dB + c * chunk_B + (Bvar - s.B);
      T* dCvar = SHARED_C ? nullptr : dC + c * chunk_C + (Cvar - s.C);
      // recompute the states and C h of this block, eq. (1)-(2)
      std::fill(g.begin(), g.end(), T(0));  // g holds h meanwhile
      for (int64_t t = 0; t < L; ++t) {
        T dt[W], ut[W], x[W], dt_raw[W];
        load_step(s, row0, width, t, blk.bias.data(), dt, ut, x, dt_raw);
        scan_step<T, SHARED_B, SHARED_C>(blk, Bvar, Cvar, N, L, t, dt, x,
                                         g.data(), states.data() + t * N * W,
                                         y_core.data() + t * W);
      }
      // walk back, eq. (4), through the gate and the D skip first
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < W; ++k)
          g[n * W + k] = (dlast && k < width) ?
              dlast[(row0 + k) * N + n] : T(0);
      std::fill(dA.begin(), dA.end(), T(0));
      std::fill(dBs.begin(), dBs.end(), T(0));
      std::fill(dCs.begin(), dCs.end(), T(0));
      T dD_acc[W] = {}, dbias_acc[W] = {};
      for (int64_t t = L - 1; t >= 0; --t) {
        T dt[W], ut[W], x[W], dt_raw[W], dy[W], du_acc[W], dd_acc[W];
        load_step(s, row0, width, t, blk.bias.data(), dt, ut, x, dt_raw);
        for (int64_t k = 0; k < W; ++k) {
          dy[k] = k < width ? dout[(row0 + k) * L + t] : T(0);
          du_acc[k] = 0;
          dd_acc[k] = 0;
        }
        if (s.z) {  // out = pre * silu(z), pre = C h + D u
          T zt[W], dzt[W];
          for (int64_t k = 0; k < W; ++k)
            zt[k] = k < width ? s.z[(row0 + k) * L + t] : T(0);
#pragma omp simd
          for (int64_t k = 0; k < W; ++k) {
            const T sig = sigmoid_(zt[k]);
            const T pre = y_core[t * W + k] + blk.Dskip[k] * ut[k];
            dzt[k] = dy[k] * pre * sig * (T(1) + zt[k] * (T(1) - sig));
            dy[k] *= zt[k] * sig;
          }
          for (int64_t k = 0; k < width; ++k) dz[(row0 + k) * L + t] = dzt[k];
        }
        for (int64_t k = 0; k < W; ++k) {
          dD_acc[k] += dy[k] * ut[k];
          du_acc[k] = dy[k] * blk.Dskip[k];
        }
        const T* ht = states.data() + t * N * W;
        const T* hprev = t > 0 ? ht - N * W : zeros.data();
        for (int64_t n = 0; n < N; ++n) {
          const T b_scalar = SHARED_B ? T(0) : Bvar[n * L + t];
          const T c_scalar = SHARED_C ? T(0) : Cvar[n * L + t];
          const T* bv = blk.B.data() + n * W;
          const T* cv = blk.C.data() + n * W;
          const T* an = blk.A.data() + n * W;
          const T* hn = ht + n * W;
          const T* hpn = hprev + n * W;
          T* gn = g.data() + n * W;
          T* dAn = dA.data() + n * W;
          T* dBn = dBs.data() + n * W;
          T* dCn = dCs.data() + n * W;
          T dB_sum = 0, dC_sum = 0;
#pragma omp simd reduction(+ : dB_sum, dC_sum)
          for (int64_t k = 0; k < W; ++k) {
            const T bk = SHARED_B ? bv[k] : b_scalar;
            const T ck = SHARED_C ? cv[k] : c_scalar;
            const T a = exp_(dt[k] * an[k]);
            const T grad_h = gn[k] + dy[k] * ck;   // d loss / d h_t
            const T dlog = grad_h * hpn[k] * a;    // d loss / d(Δ A)
            dAn[k] += dlog * dt[k];
            dd_acc[k] += dlog * an[k] + grad_h * ut[k] * bk;
            du_acc[k] += grad_h * dt[k] * bk;
            const T dB_k = grad_h * x[k], dC_k = dy[k] * hn[k];
            if (SHARED_B) dBn[k] += dB_k; else dB_sum += dB_k;
            if (SHARED_C) dCn[k] += dC_k; else dC_sum += dC_k;
            gn[k] = a * grad_h;                    // to h_{t-1}
          }
          if (!SHARED_B) dBvar[n * L + t] += dB_sum;
          if (!SHARED_C) dCvar[n * L + t] += dC_sum;
        }
        if (s.softplus) {
#pragma omp simd
          for (int64_t k = 0; k < W; ++k)
            dd_acc[k] *= softplus_grad_(dt_raw[k]);
        }
        for (int64_t k = 0; k < width; ++k) {
          du[(row0 + k) * L + t] = du_acc[k];
          ddelta[(row0 + k) * L + t] = dd_acc[k];
          dbias_acc[k] += dd_acc[k];
        }
      }
      for (int64_t k = 0; k < width; ++k) {
        dD_out[row0 + k] = dD_acc[k];
        dbias_out[row0 + k] = dbias_acc[k];
        for (int64_t n = 0; n < N; ++n) {
          const int64_t at = (row0 + k) * N + n;
          dA_out[at] = dA[n * W + k];
          if (SHARED_B) dB[at] = dBs[n * W + k];
          if (SHARED_C) dC[at] = dCs[n * W + k];
        }
      }
    }
  });
}

template <typename T>
static const T* optional_ptr(const torch::Tensor& X) {
  return X.numel() ? X.data_ptr<T>() : nullptr;
}

template <typename T>
static Scan<T> make_scan(const torch::Tensor& u, const torch::Tensor& delta,
                         const torch::Tensor& A, const torch::Tensor& B,
                         const torch::Tensor& C, const torch::Tensor& Dskip,
                         const torch::Tensor& z, const torch::Tensor& bias,
                         bool softplus) {
  Scan<T> s;
  s.u = u.data_ptr<T>(); s.delta = delta.data_ptr<T>(); s.A = A.data_ptr<T>();
  s.B = B.data_ptr<T>(); s.C = C.data_ptr<T>();
  s.Dskip = optional_ptr<T>(Dskip); s.z = optional_ptr<T>(z);
  s.bias = optional_ptr<T>(bias); s.softplus = softplus;
  s.batch = u.size(0); s.dim = u.size(1); s.len = u.size(2); s.N = A.size(1);
  s.groups_B = B.dim() == 2 ? 0 : B.size(1);
  s.groups_C = C.dim() == 2 ? 0 : C.size(1);
  make_blocks(s);
  return s;
}

template <typename T, typename F>
static void dispatch_shared(const Scan<T>& s, const F& fn) {
  if (!s.groups_B && !s.groups_C) fn(std::true_type(), std::true_type());
  else if (!s.groups_B) fn(std::true_type(), std::false_type());
  else if (!s.groups_C) fn(std::false_type(), std::true_type());
  else fn(std::false_type(), std::false_type());
}

// All tensors contiguous and of one dtype; D, z, delta_bias may be empty.
// B, C: (dim, N) shared or (batch, groups, N, len). Returns out, last.
std::vector<torch::Tensor> scan_forward(torch::Tensor u, torch::Tensor delta,
                                        torch::Tensor A, torch::Tensor B,
                                        torch::Tensor C, torch::Tensor Dskip,
                                        torch::Tensor z, torch::Tensor bias,
                                        bool softplus) {
  auto out = torch::empty_like(u);
  auto last = torch::empty({u.size(0), u.size(1), A.size(1)}, u.options());
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "dunseg_scan_forward", [&] {
    const auto s = make_scan<scalar_t>(u, delta, A, B, C, Dskip, z, bias,
                                       softplus);
    dispatch_shared(s, [&](auto shared_B, auto shared_C) {
      forward_impl<scalar_t, decltype(shared_B)::value,
                   decltype(shared_C)::value>(s, out.data_ptr<scalar_t>(),
                                              last.data_ptr<scalar_t>());
    });
  });
  return {out, last};
}

// Returns du, ddelta, dA, dB, dC, dD, dz, ddelta_bias (empty where the
// input was absent), in the inputs' layouts.
std::vector<torch::Tensor> scan_backward(
    torch::Tensor u, torch::Tensor delta, torch::Tensor A, torch::Tensor B,
    torch::Tensor C, torch::Tensor Dskip, torch::Tensor z, torch::Tensor bias,
    bool softplus, torch::Tensor dout, torch::Tensor dlast) {
  const int64_t batch = u.size(0), dim = u.size(1), len = u.size(2);
  const int64_t N = A.size(1);
  auto du = torch::empty_like(u);
  auto ddelta = torch::empty_like(u);
  auto dz = z.numel() ? torch::empty_like(u) : torch::empty({0}, u.options());
  auto dA = torch::empty({batch, dim, N}, u.options());
  auto dD = torch::empty({batch, dim}, u.options());
  auto dbias = torch::empty({batch, dim}, u.options());
  torch::Tensor dB, dC;
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "dunseg_scan_backward", [&] {
    const auto s = make_scan<scalar_t>(u, delta, A, B, C, Dskip, z, bias,
                                       softplus);
    const int64_t chunks = s.chunks();
    auto buffer = [&](const torch::Tensor& X) {
      return X.dim() == 2
          ? torch::empty({batch, dim, N}, u.options())
          : torch::zeros({chunks, batch, X.size(1), N, len}, u.options());
    };
    dB = buffer(B);
    dC = buffer(C);
    Grads grads{du.data_ptr(), ddelta.data_ptr(), dz.data_ptr(), dA.data_ptr(),
                dB.data_ptr(), dC.data_ptr(), dD.data_ptr(), dbias.data_ptr()};
    dispatch_shared(s, [&](auto shared_B, auto shared_C) {
      backward_impl<scalar_t, decltype(shared_B)::value,
                    decltype(shared_C)::value>(
          s, dout.data_ptr<scalar_t>(), optional_ptr<scalar_t>(dlast), grads);
    });
  });
  return {du, ddelta, dA.sum(0), dB.sum(0), dC.sum(0), dD.sum(0), dz,
          dbias.sum(0)};
}
'''

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
            (_CPU_KERNEL_SOURCE + ' '.join(flags) +
             _cpu_identity()).encode()).hexdigest()[:10]
        try:
            load_inline = _import_load_inline()
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
                "to backend='torch' (same results, 10-30 times slower). "
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
