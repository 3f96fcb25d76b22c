"""Benchmark inference and train-step speed of a model on synthetic data.

``python tools/analysis_tools/benchmark.py CONFIG [--checkpoint CKPT]
[--shape H W] [--batch-size N] [--repeat R] [--mode infer|train|both]
[--threads T]``

Reports images/s and ms per batch (median and best of the timed iterations,
warm-up excluded), achieved GFLOP/s, the ratio to a ``torch.mm`` timed in
the same run, and peak memory. Every measurement runs in a fresh process.

``--breakdown DEPTH`` instead splits a training step into forward + loss,
backward and optimizer, and lists the forward time of every submodule down
to DEPTH levels (in this process).
"""
import argparse
import json
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)

import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402

from dunseg.utils.benchmark import (  # noqa: E402
    benchmark_config,
    build_benchmark_model,
    step_breakdown,
)
from dunseg.utils.complexity import format_count  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Benchmark inference / train steps of a model')
    parser.add_argument('config', help='config file with a "model" key')
    parser.add_argument('--checkpoint', help='weights to load (optional)')
    parser.add_argument(
        '--shape', type=int, nargs=2, default=[256, 256], metavar=('H', 'W'),
        help='input height and width')
    parser.add_argument(
        '--batch-size', type=int, default=1, help='images per iteration')
    parser.add_argument(
        '--repeat', type=int, default=5, help='timed iterations per mode')
    parser.add_argument(
        '--warmup', type=int, default=2,
        help='untimed iterations before timing')
    parser.add_argument(
        '--mode', choices=['infer', 'train', 'both'], default='infer',
        help='infer: eval + no_grad forward; train: forward + loss + '
        'backward + Adam step')
    parser.add_argument(
        '--threads', type=int,
        help='torch.set_num_threads (default: PyTorch default)')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    parser.add_argument(
        '--matmul-size', type=int, default=2048,
        help='size of the square float32 torch.mm reference')
    parser.add_argument(
        '--no-isolate', action='store_true',
        help='measure in this process (faster start; peak memory may be '
        'polluted by earlier measurements)')
    parser.add_argument(
        '--keep-heap', action='store_true',
        help='keep freed memory in the glibc heap (mallopt), as '
        'DunSegRunner does for training (env_cfg.malloc_keep_heap)')
    parser.add_argument(
        '--fuse-conv-bn', action='store_true',
        help='inference: fold BatchNorm into the preceding convolutions '
        '(same outputs, fewer memory passes)')
    parser.add_argument(
        '--breakdown', type=int, metavar='DEPTH',
        help='train step: time forward / backward / optimizer and the '
        'forward of every submodule down to DEPTH levels')
    parser.add_argument(
        '--top', type=int, default=20,
        help='--breakdown: submodules listed (slowest first)')
    parser.add_argument('--out', help='also write the results to this JSON')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, e.g. model.channels_last=False')
    return parser.parse_args(argv)


def input_channels(cfg: Config) -> int:
    """``in_channels`` of the config's data preprocessor, else 3."""
    preprocessor = cfg.model.get('data_preprocessor') or {}
    return preprocessor.get('in_channels') or 3


def print_report(config: str, report: dict) -> None:
    matmul = report['matmul']
    split_line = '=' * 72
    print(split_line)
    print(f'Config:   {config}')
    print(f'Device:   {report["cpu"]}, {report["results"][0]["threads"]} '
          'thread(s)')
    environment = report['environment'] or 'no allocator/threading variables'
    print(f'Env:      {environment}')
    heap = 'kept (mallopt)' if report.get('keep_heap') else 'glibc default'
    print(f'Heap:     {heap}')
    if report.get('fuse_conv_bn'):
        print('Fused:    BatchNorm folded into convolutions for inference')
    print(f'Params:   {report["params"]:,}')
    print(f'MACs:     {format_count(report["macs_per_image"])} per image '
          '(forward; one fused multiply-add = 1 MAC)')
    print(f'torch.mm: {matmul["size"]}x{matmul["size"]} float32, best '
          f'{1e3 * matmul["best_s"]:.1f} ms = {matmul["gflops_best"]:.1f} '
          f'GFLOP/s (2*n^3 FLOPs; median {matmul["gflops_median"]:.1f})')
    print('GFLOP/s = 2 x MACs x images/s / 1e9; a train step (forward + loss '
          '+ backward + Adam) counts as 3 x forward MACs.')
    for result in report['results']:
        print(split_line)
        height, width = result['shape']
        title = ('inference (eval, no_grad)' if result['mode'] == 'infer'
                 else 'train step (forward + loss + backward + Adam step)')
        print(f'{title}: batch {result["batch_size"]} x {height}x{width}, '
              f'{result["warmup"]} warm-up + {result["repeat"]} timed')
        print(f'  ms / batch:  median {result["ms_median"]:.1f}  best '
              f'{result["ms_best"]:.1f}')
        print(f'  images / s:  median {result["images_per_s_median"]:.3f}  '
              f'best {result["images_per_s_best"]:.3f}')
        print(f'  GFLOP/s:     median {result["gflops_median"]:.1f}  best '
              f'{result["gflops_best"]:.1f}')
        print(f'  of torch.mm: median {100 * result["mm_fraction_median"]:.1f}'
              f' %  best {100 * result["mm_fraction_best"]:.1f} %')
        print(f'  peak memory: {result["peak_memory_mib"]:.0f} MiB '
              f'({result["memory_method"]})')
        print(f'  load average (1 min) after: {result["load_average"]}')
    print(split_line)


def print_breakdown(config: str, report: dict, top: int) -> None:
    phases = report['phases_ms']
    print(f'Config: {config}, {report["threads"]} thread(s); train step '
          f'{phases["step"]:.0f} ms = forward + loss {phases["forward"]:.0f}'
          f' + backward {phases["backward"]:.0f} + optimizer '
          f'{phases["optimizer"]:.0f} (medians)')
    print(f'{"forward ms":>10s} {"share":>6s} {"calls":>5s}  module')
    for name, calls, ms, share in report['modules'][:top]:
        print(f'{ms:10.1f} {100 * share:5.1f}% {calls:5d}  {name}')


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if 'model' not in cfg:
        raise KeyError(f'{args.config} defines no "model"')
    if args.breakdown is not None:
        if args.threads:
            torch.set_num_threads(args.threads)
        model = build_benchmark_model(cfg.model.to_dict(), args.checkpoint,
                                      args.device)
        report = step_breakdown(
            model, shape=tuple(args.shape), batch_size=args.batch_size,
            in_channels=input_channels(cfg), depth=args.breakdown,
            warmup=args.warmup, repeat=args.repeat)
        print_breakdown(args.config, report, args.top)
        if args.out:
            with open(args.out, 'w') as out:
                json.dump(report, out, indent=2)
        return report
    modes = ['infer', 'train'] if args.mode == 'both' else [args.mode]
    report = benchmark_config(
        cfg.model.to_dict(),
        checkpoint=args.checkpoint,
        shape=tuple(args.shape),
        batch_sizes={mode: args.batch_size for mode in modes},
        modes=modes,
        in_channels=input_channels(cfg),
        warmup=args.warmup,
        repeat=args.repeat,
        threads=args.threads,
        device=args.device,
        matmul_size=args.matmul_size,
        isolate=not args.no_isolate,
        keep_heap=args.keep_heap,
        fuse_conv_bn=args.fuse_conv_bn)
    report['config'] = args.config
    report['cfg_options'] = args.cfg_options
    print_report(args.config, report)
    if args.out:
        with open(args.out, 'w') as out:
            json.dump(report, out, indent=2)
    return report


if __name__ == '__main__':
    main()
