"""Time dunseg's selective scan against the recurrence it implements.

``python tools/experiments/benchmark_scan.py [--sizes B,D,N,L ...]
[--backends cpu_kernel torch] [--repeat 3] [--threads T] [--out FILE]``

For every size (default: batch 1, d_inner 192, d_state 16, L 4096 and
batch 4, d_inner 96, d_state 16, L 16384) it times, in the same run,

- ``reference``: the recurrence written out as mamba-ssm's
  ``selective_scan_ref`` does it: ``exp(Δ A)`` and ``Δ B u`` materialised as
  (batch, D, L, N) tensors, then one Python step per position
  ``h = exp(Δ_t A) h + Δ_t B_t u_t``, ``y_t = C_t · h``; gradients by
  autograd through that loop (steps taken with ``unbind``, which keeps that
  backward linear in L; see :func:`recurrence_reference`);
- each requested backend of :func:`dunseg.models.layers.selective_scan`,

in two modes, ``forward`` (no autograd graph) and ``forward+backward``
(forward, then backward of ``(out · w).sum()``, gradients for u, Δ, A, B, C,
D, z and the Δ bias). Inputs are Mamba's: Δ = softplus(Δ_raw + bias), A =
-(1..N) (S4D-real), input-dependent B and C, D, and the gate z.

Time: median (and best) of ``--repeat`` timed runs after ``--warmup``
untimed runs (``--reference-repeat`` / ``--reference-warmup`` for the
reference, whose runs take minutes at L = 16,384).
Peak memory: every (size, implementation, mode) runs in a fresh spawned
process; the peak resident set size (VmHWM, reset through
``/proc/self/clear_refs`` after the inputs are made) minus the resident set
size at that moment, i.e. what the operation itself added at its peak (the
same meter as ``tools/analysis_tools/benchmark.py``).
"""
import argparse
import json
import os
import os.path as osp
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

DEFAULT_SIZES = ('1,192,16,4096', '4,96,16,16384')
MODES = ('forward', 'forward+backward')


def recurrence_reference(u, delta, A, B, C, D, z, delta_bias):
    """The selective scan as a loop over positions, mamba-ssm's reference
    layout (input-dependent B, C (batch, N, L), softplus on Δ).

    The per-step tensors come from ``unbind`` rather than mamba-ssm's
    ``deltaA[:, :, i]``: autograd turns each such index into a full-size
    zero tensor in the backward, which makes that backward quadratic in L
    (over an hour at L = 16,384); with ``unbind`` it is linear and the
    forward is the same.
    """
    delta = F.softplus(delta + delta_bias[:, None])
    decay = torch.exp(torch.einsum('bdl,dn->bdln', delta, A)).unbind(2)
    drive = torch.einsum('bdl,bnl,bdl->bdln', delta, B, u).unbind(2)
    readout = C.unbind(2)
    state = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])
    outputs = []
    for decay_t, drive_t, readout_t in zip(decay, drive, readout):
        state = decay_t * state + drive_t
        outputs.append(torch.einsum('bdn,bn->bd', state, readout_t))
    y = torch.stack(outputs, dim=2) + u * D[:, None]
    return y * F.silu(z)


def make_inputs(batch: int, d_inner: int, d_state: int, length: int,
                requires_grad: bool) -> dict:
    generator = torch.Generator().manual_seed(0)

    def randn(*shape, scale=1.0):
        tensor = torch.randn(*shape, generator=generator) * scale
        return tensor.requires_grad_(requires_grad)

    A = -torch.arange(1, d_state + 1, dtype=torch.float32).repeat(d_inner, 1)
    # softplus(-4 ± 0.5) ~ 0.01-0.03: inside Mamba's initial Δ range
    delta_bias = torch.randn(d_inner, generator=generator) * 0.5 - 4.0
    return dict(
        u=randn(batch, d_inner, length),
        delta=randn(batch, d_inner, length, scale=0.5),
        A=A.requires_grad_(requires_grad),
        B=randn(batch, d_state, length),
        C=randn(batch, d_state, length),
        D=randn(d_inner),
        z=randn(batch, d_inner, length),
        delta_bias=delta_bias.requires_grad_(requires_grad))


def _measure(size: tuple, implementation: str, mode: str, repeat: int,
             threads: int, warmup: int = 1) -> dict:
    """One measurement, in its own process."""
    from dunseg.models.layers.selective_scan import selective_scan
    from dunseg.utils.benchmark import PeakMemoryMeter

    if threads:
        torch.set_num_threads(threads)
    backward = mode == 'forward+backward'
    inputs = make_inputs(*size, requires_grad=backward)
    if implementation == 'reference':

        def forward():
            return recurrence_reference(**inputs)
    else:
        # build the C++ kernel (first use on a machine) before timing
        selective_scan(**make_inputs(1, 16, 4, 8, False),
                       delta_softplus=True, backend=implementation)

        def forward():
            return selective_scan(**inputs, delta_softplus=True,
                                  backend=implementation)

    weight = torch.randn(size[0], size[1], size[3])

    def run_once():
        if backward:
            out = forward()
            (out * weight).sum().backward()
            for tensor in inputs.values():
                tensor.grad = None
        else:
            with torch.no_grad():
                forward()

    meter = PeakMemoryMeter(torch.device('cpu'))
    meter.start()
    times = []
    for iteration in range(warmup + repeat):
        start = time.perf_counter()
        run_once()
        if iteration >= warmup:
            times.append(time.perf_counter() - start)
    return dict(
        size=list(size),
        implementation=implementation,
        mode=mode,
        warmup=warmup,
        repeat=repeat,
        median_s=statistics.median(times),
        best_s=min(times),
        peak_mib=meter.peak_mib(),
        memory_method=meter.method,
        threads=torch.get_num_threads(),
        load_average=os.getloadavg()[0])


def _in_fresh_process(*args) -> dict:
    # 'spawn': a forked child would inherit the parent's heap and peak RSS
    with ProcessPoolExecutor(
            max_workers=1, mp_context=get_context('spawn')) as executor:
        return executor.submit(_measure, *args).result()


def parse_size(text: str) -> tuple:
    try:
        batch, d_inner, d_state, length = (int(v) for v in text.split(','))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'size must be batch,d_inner,d_state,L (four integers), got '
            f'{text!r}')
    return batch, d_inner, d_state, length


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Benchmark the selective scan against its recurrence')
    parser.add_argument(
        '--sizes', type=parse_size, nargs='+',
        default=[parse_size(s) for s in DEFAULT_SIZES],
        help='batch,d_inner,d_state,L (default: %(default)s)')
    parser.add_argument(
        '--backends', nargs='+', default=['cpu_kernel', 'torch'],
        choices=['cpu_kernel', 'torch'], help='dunseg backends to time')
    parser.add_argument(
        '--modes', nargs='+', default=list(MODES), choices=MODES)
    parser.add_argument(
        '--repeat', type=int, default=3,
        help='timed runs per measurement, after one warm-up run')
    parser.add_argument(
        '--warmup', type=int, default=1, help='untimed runs before timing')
    parser.add_argument(
        '--reference-repeat', type=int,
        help='timed runs of the reference (default: --repeat); it takes '
        'minutes per run at L = 16,384 on a loaded 2-core machine')
    parser.add_argument(
        '--reference-warmup', type=int,
        help='untimed runs of the reference (default: --warmup)')
    parser.add_argument(
        '--threads', type=int, help='torch.set_num_threads in every worker')
    parser.add_argument('--out', help='also write the results to this JSON')
    return parser.parse_args(argv)


def format_table(results: list) -> str:
    """Markdown table; ratios relative to the reference of the same size and
    mode."""
    reference = {(tuple(r['size']), r['mode']): r for r in results
                 if r['implementation'] == 'reference'}
    lines = [
        '| batch, d_inner, d_state, L | mode | implementation | median s '
        '(best) | speed-up vs reference | peak memory MiB | memory vs '
        'reference |', '|---|---|---|---|---|---|---|'
    ]
    for r in results:
        ref = reference.get((tuple(r['size']), r['mode']))
        speedup = (f"{ref['median_s'] / r['median_s']:.1f}x"
                   if ref else '–')
        memory = (f"{r['peak_mib'] / ref['peak_mib']:.2f}x"
                  if ref and ref['peak_mib'] > 0 else '–')
        lines.append(
            f"| {', '.join(str(v) for v in r['size'])} | {r['mode']} | "
            f"{r['implementation']} | {r['median_s']:.3f} "
            f"({r['best_s']:.3f}) | {speedup} | {r['peak_mib']:.0f} | "
            f'{memory} |')
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    results = []
    for size in args.sizes:
        for mode in args.modes:
            for implementation in ['reference'] + args.backends:
                is_reference = implementation == 'reference'
                repeat = (args.reference_repeat or args.repeat
                          if is_reference else args.repeat)
                warmup = (args.reference_warmup if is_reference and
                          args.reference_warmup is not None else args.warmup)
                result = _in_fresh_process(size, implementation, mode,
                                           repeat, args.threads, warmup)
                results.append(result)
                print(f"{size} {mode:<16} {implementation:<10} "
                      f"median {result['median_s']:.3f} s, best "
                      f"{result['best_s']:.3f} s, peak "
                      f"{result['peak_mib']:.0f} MiB, load "
                      f"{result['load_average']:.1f}", flush=True)
    print()
    print(format_table(results))
    print(f"\nthreads: {results[0]['threads']}; memory: "
          f"{results[0]['memory_method']}")
    if args.out:
        with open(args.out, 'w') as out:
            json.dump(results, out, indent=2)
    return results


if __name__ == '__main__':
    main()
