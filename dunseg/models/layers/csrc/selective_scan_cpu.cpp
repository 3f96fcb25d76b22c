// dunseg's fused CPU selective scan (backend 'cpu_kernel'), eqs. (1)-(4) of
// the docstring of dunseg/models/layers/selective_scan.py. That module reads
// this file and compiles it with torch.utils.cpp_extension.load_inline on
// first use, which generates the Python bindings of scan_forward and
// scan_backward; the build is cached under a hash of this text.

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
