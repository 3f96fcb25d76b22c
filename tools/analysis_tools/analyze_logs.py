"""Plot curves from and time MMEngine scalar logs (``vis_data/scalars.json``).

Plot the loss and a metric of two runs::

    python tools/analysis_tools/analyze_logs.py plot_curve \
        work_dirs/a/20240101_000000/vis_data/scalars.json \
        work_dirs/b/20240101_000000/vis_data/scalars.json \
        --keys loss IoU --legend a b --out curves.png

Average iteration time of a run::

    python tools/analysis_tools/analyze_logs.py cal_train_time LOG_JSON

Each line of ``scalars.json`` is one JSON object. Training lines carry
``lr``, ``loss``, ``loss_*``, ``time``, ``iter`` and ``step`` (the global
iteration); validation lines carry the metrics (``IoU``, ``nIoU``, ``Pd``
...) and ``step``, which is the iteration for iteration-based runs and the
epoch for epoch-based runs (MMEngine's ``log_metric_by_epoch``).
"""
import argparse
import json
import os.path as osp
import statistics
from typing import Dict, List, Optional, Tuple

import matplotlib

matplotlib.use('Agg')  # file output only; no display needed

import matplotlib.pyplot as plt  # noqa: E402

Entry = Dict[str, float]


def load_scalars(path: str) -> Tuple[List[Entry], List[Entry]]:
    """Split a ``scalars.json`` into training and validation entries."""
    train, val = [], []
    with open(path) as log:
        for line_number, line in enumerate(log, 1):
            line = line.strip()
            if not line:
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(
                    f'{path}:{line_number} is not JSON ({error}); pass '
                    'vis_data/scalars.json, not the text log') from None
            # Only training lines carry the learning rate and the iteration.
            (train if 'lr' in entry or 'iter' in entry else val).append(entry)
    return train, val


def validation_iterations(train: List[Entry], val: List[Entry]) -> List[int]:
    """Training iteration at which each validation entry was logged.

    In epoch-based runs a validation ``step`` is an epoch: it is mapped to the
    last logged iteration of that epoch, so that loss and metric curves share
    one x-axis.
    """
    last_step_of_epoch: Dict[int, int] = {}
    for entry in train:
        if 'epoch' in entry:
            epoch = int(entry['epoch'])
            last_step_of_epoch[epoch] = max(
                last_step_of_epoch.get(epoch, 0), int(entry['step']))
    if not last_step_of_epoch:
        return [int(entry['step']) for entry in val]
    return [
        last_step_of_epoch.get(int(entry['step']), int(entry['step']))
        for entry in val
    ]


def curve(train: List[Entry], val: List[Entry],
          key: str) -> Optional[Tuple[List[int], List[float]]]:
    """(iterations, values) of ``key``, from training or validation lines."""
    if any(key in entry for entry in train):
        points = [(int(e['step']), e[key]) for e in train if key in e]
    elif any(key in entry for entry in val):
        iterations = validation_iterations(train, val)
        points = [(it, e[key]) for it, e in zip(iterations, val) if key in e]
    else:
        return None
    xs, ys = zip(*points)
    return list(xs), list(ys)


def available_keys(train: List[Entry], val: List[Entry]) -> List[str]:
    keys = {key for entry in train + val for key in entry}
    return sorted(keys - {'step', 'iter', 'epoch'})


def default_legend(path: str) -> str:
    """The work dir's name for ``WORK_DIR/TIMESTAMP/vis_data/scalars.json``."""
    parts = osp.abspath(path).split(osp.sep)
    if parts[-2:] == ['vis_data', 'scalars.json'] and len(parts) >= 5:
        return parts[-4]
    return osp.splitext(osp.basename(path))[0]


def plot_curve(args) -> str:
    logs = [load_scalars(path) for path in args.json_logs]
    legends = args.legend or [default_legend(path) for path in args.json_logs]
    if len(legends) != len(logs):
        raise ValueError(f'{len(legends)} legend(s) for {len(logs)} log(s)')

    # One panel per key: losses and metrics live on different scales.
    figure, axes = plt.subplots(
        len(args.keys), 1, squeeze=False,
        figsize=(8, 3.2 * len(args.keys)), sharex=True)
    for axis, key in zip(axes[:, 0], args.keys):
        for path, (train, val), legend in zip(args.json_logs, logs, legends):
            points = curve(train, val, key)
            if points is None:
                raise KeyError(
                    f'{path} has no "{key}"; available keys: '
                    f'{", ".join(available_keys(train, val))}')
            xs, ys = points
            marker = 'o' if len(xs) < 30 else None
            axis.plot(xs, ys, marker=marker, markersize=3, label=legend)
        axis.set_ylabel(key)
        axis.grid(alpha=0.3)
        axis.legend()
    axes[-1, 0].set_xlabel('iteration')
    if args.title:
        axes[0, 0].set_title(args.title)
    figure.tight_layout()
    figure.savefig(args.out, dpi=args.dpi)
    plt.close(figure)
    print(f'saved {", ".join(args.keys)} curves to {args.out}')
    return args.out


def cal_train_time(args) -> List[dict]:
    summaries = []
    for path in args.json_logs:
        train, _ = load_scalars(path)
        times = [entry['time'] for entry in train if 'time' in entry]
        if not times:
            raise KeyError(f'{path} has no training "time" entries')
        # The first logged interval includes start-up (dataloader workers,
        # kernel selection) unless it is the only one.
        steady = times[1:] if len(times) > 1 else times
        last_step = max(int(entry['step']) for entry in train)
        summary = dict(
            log=path,
            iterations=last_step,
            mean_s=statistics.mean(steady),
            std_s=statistics.pstdev(steady),
            fastest_s=min(steady),
            slowest_s=max(steady),
            total_h=statistics.mean(steady) * last_step / 3600)
        summaries.append(summary)
        print(f'-----Analyze train time of {path}-----')
        print(f'logged intervals: {len(times)}, iterations: {last_step}')
        print(f'average iter time: {summary["mean_s"]:.4f} s/iter '
              f'(std {summary["std_s"]:.4f}; first interval excluded)')
        print(f'fastest / slowest interval: {summary["fastest_s"]:.4f} / '
              f'{summary["slowest_s"]:.4f} s/iter')
        print(f'estimated training time: {summary["total_h"]:.2f} h')
    return summaries


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Analyse MMEngine vis_data/scalars.json logs')
    subparsers = parser.add_subparsers(dest='task', required=True)

    plot = subparsers.add_parser('plot_curve', help='plot loss/metric curves')
    plot.add_argument('json_logs', nargs='+', help='scalars.json file(s)')
    plot.add_argument(
        '--keys', nargs='+', default=['loss'],
        help='keys to plot, one panel each (e.g. loss IoU)')
    plot.add_argument('--legend', nargs='+', help='one legend per log')
    plot.add_argument('--title', help='figure title')
    plot.add_argument('--out', default='curves.png', help='output PNG')
    plot.add_argument('--dpi', type=int, default=120)
    plot.set_defaults(func=plot_curve)

    timing = subparsers.add_parser(
        'cal_train_time', help='average training iteration time')
    timing.add_argument('json_logs', nargs='+', help='scalars.json file(s)')
    timing.set_defaults(func=cal_train_time)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    return args.func(args)


if __name__ == '__main__':
    main()
