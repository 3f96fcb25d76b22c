"""Draw PR and F-measure-vs-threshold curves of COD methods, side by side.

Each method is ``NAME=PATH`` where PATH is a prediction folder (one map per
mask, matched by stem; with ``--gt-root`` a folder holding one sub-folder
per test set) or a JSON written by ``eval_cod.py --curves``. One row per
test set: the precision-recall curve (256 thresholds, averaged over the
set's images as the COD papers plot it) and the F-measure (β² = 0.3)
against the threshold, every method in its own colour::

    python tools/analysis_tools/cod_curves.py \\
        --methods RUN=results/RUN NUN=results/NUN SINet-V2=sinet.json \\
        --gt-root data/TestDataset --sets CAMO COD10K NC4K \\
        --out curves.png

    python tools/analysis_tools/cod_curves.py --methods A=predsA B=predsB \\
        --gt-dir masks/ --out curves.png
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import numpy as np  # noqa: E402

from dunseg.evaluation.metrics.cod_metric import evaluate_cod_folders  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 2)[2])
    parser.add_argument('--methods', nargs='+', required=True,
                        metavar='NAME=PATH')
    parser.add_argument('--gt-dir', help='mask folder (one test set)')
    parser.add_argument('--gt-root', help='folder with <set>/<gt-subdir>')
    parser.add_argument('--sets', nargs='+',
                        help='test sets (default: those of --gt-root, or '
                        "'all' for --gt-dir)")
    parser.add_argument('--gt-subdir', default='GT')
    parser.add_argument('--out', default='cod_curves.png')
    parser.add_argument('--allow-missing', action='store_true')
    parser.add_argument('--workers', type=int, default=1)
    args = parser.parse_args(argv)
    methods = []
    for item in args.methods:
        if '=' not in item:
            parser.error(f'--methods takes NAME=PATH, got {item!r}')
        name, path = item.split('=', 1)
        methods.append((name, path))
    args.methods = methods
    if not args.gt_dir and not args.gt_root and not all(
            p.endswith('.json') for _, p in methods):
        parser.error('prediction folders need --gt-dir or --gt-root')
    return args


def method_curves(path, sets, args):
    """``{set: {'precision', 'recall', 'fm_curve', 'maxFm', ...}}``."""
    if path.endswith('.json'):
        with open(path) as f:
            data = json.load(f)
        missing = [s for s in sets if s not in data or
                   'precision' not in data[s]]
        if missing:
            raise KeyError(f'{path!r} has no curves for {missing}; write it '
                           'with eval_cod.py --curves')
        return {s: data[s] for s in sets}
    out = {}
    for s in sets:
        if args.gt_dir:
            pred_dir, gt_dir = path, args.gt_dir
        else:
            pred_dir = osp.join(path, s)
            gt_dir = osp.join(args.gt_root, s, args.gt_subdir)
        out[s] = evaluate_cod_folders(pred_dir, gt_dir, with_curves=True,
                                      allow_missing=args.allow_missing,
                                      workers=args.workers)
    return out


def draw(curves, sets, out_path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(len(sets), 2, figsize=(10, 4 * len(sets)),
                             squeeze=False)
    thresholds = np.arange(256)
    for row, s in enumerate(sets):
        ax_pr, ax_fm = axes[row]
        for name, per_set in curves.items():
            c = per_set[s]
            p, r = np.asarray(c['precision']), np.asarray(c['recall'])
            label = f'{name} (maxF {c["maxFm"]:.3f})'
            ax_pr.plot(r, p, label=label, linewidth=1.5)
            ax_fm.plot(thresholds, c['fm_curve'],
                       label=f'{name} (meanF {c["meanFm"]:.3f})',
                       linewidth=1.5)
        ax_pr.set(title=f'{s}: precision-recall', xlabel='recall',
                  ylabel='precision', xlim=(0, 1), ylim=(0, 1.02))
        ax_fm.set(title=f'{s}: F-measure vs threshold', xlabel='threshold',
                  ylabel='F-measure (beta^2 = 0.3)', xlim=(0, 255),
                  ylim=(0, 1.02))
        for ax in (ax_pr, ax_fm):
            ax.grid(alpha=0.3)
            ax.legend(loc='lower left', fontsize=8)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out_path)), exist_ok=True)
    fig.savefig(out_path, dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    if args.sets:
        sets = args.sets
    elif args.gt_root:
        sets = sorted(d for d in os.listdir(args.gt_root)
                      if osp.isdir(osp.join(args.gt_root, d)))
    elif args.gt_dir:
        sets = ['all']
    else:
        with open(args.methods[0][1]) as f:
            sets = list(json.load(f))
    curves = {name: method_curves(path, sets, args)
              for name, path in args.methods}
    draw(curves, sets, args.out)
    for s in sets:
        print(s + ': ' + ', '.join(
            f'{name} maxFm {c[s]["maxFm"]:.4f}' for name, c in curves.items()))
    print(f'curves written to {args.out}')
    return curves


if __name__ == '__main__':
    main()
