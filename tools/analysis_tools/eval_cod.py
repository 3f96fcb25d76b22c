"""Evaluate saved COD prediction maps of any method against mask folders.

A Python replacement for the MATLAB CODToolbox (PySODMetrics, the same
definitions as CODMetric): Sα, Fβʷ, MAE, E-measure and F-measure
(adaptive / mean / max), printed as a table and written as JSON.

One prediction folder against one mask folder::

    python tools/analysis_tools/eval_cod.py --pred-dir results/RUN/CAMO \\
        --gt-dir data/TestDataset/CAMO/GT --name CAMO --out run_camo.json

Several test sets (``<pred-root>/<set>/*.png`` against
``<gt-root>/<set>/<gt-subdir>/*.png``, the layout RUN's and SINet-V2's test
scripts write and read)::

    python tools/analysis_tools/eval_cod.py --pred-root results/RUN \\
        --gt-root data/TestDataset --sets CHAMELEON CAMO COD10K NC4K \\
        --out run.json --curves

Predictions are matched to masks by file stem and read as saved (8-bit
maps are min-max normalised by PySODMetrics, as by the toolbox); maps of
another size are resized bilinearly to the mask. ``--curves`` stores the
mean precision, recall, F-measure and E-measure curves (256 thresholds)
that ``cod_curves.py`` can draw. A progress bar per set (one step per
image) goes to stderr.
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from dunseg.evaluation.metrics.cod_metric import (  # noqa: E402
    COD_METRIC_KEYS,
    evaluate_cod_folders,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 2)[2])
    parser.add_argument('--pred-dir', help='one folder of prediction maps')
    parser.add_argument('--gt-dir', help='its mask folder')
    parser.add_argument('--name', help='set name for --pred-dir (default: '
                        "the prediction folder's name)")
    parser.add_argument('--pred-root', help='folder with one prediction '
                        'folder per test set')
    parser.add_argument('--gt-root', help='folder with one <set>/GT folder '
                        'per test set')
    parser.add_argument('--sets', nargs='+', help='test sets under the '
                        'roots (default: every folder of --pred-root)')
    parser.add_argument('--gt-subdir', default='GT',
                        help="mask sub-folder of each set (default 'GT')")
    parser.add_argument('--out', help='write the results as JSON here')
    parser.add_argument('--curves', action='store_true',
                        help='store the mean curves in the JSON')
    parser.add_argument('--allow-missing', action='store_true',
                        help='skip masks without prediction')
    parser.add_argument('--workers', type=int, default=1)
    args = parser.parse_args(argv)
    if bool(args.pred_dir) == bool(args.pred_root):
        parser.error('give either --pred-dir with --gt-dir, or --pred-root '
                     'with --gt-root')
    if args.pred_dir and not args.gt_dir:
        parser.error('--pred-dir needs --gt-dir')
    if args.pred_root and not args.gt_root:
        parser.error('--pred-root needs --gt-root')
    return args


def collect_jobs(args):
    """``[(set name, prediction folder, mask folder)]``."""
    if args.pred_dir:
        name = args.name or osp.basename(osp.normpath(args.pred_dir))
        return [(name, args.pred_dir, args.gt_dir)]
    sets = args.sets or sorted(
        d for d in os.listdir(args.pred_root)
        if osp.isdir(osp.join(args.pred_root, d)))
    if not sets:
        raise FileNotFoundError(f'no set folder in {args.pred_root!r}; pass '
                                '--sets or --pred-dir')
    return [(s, osp.join(args.pred_root, s),
             osp.join(args.gt_root, s, args.gt_subdir)) for s in sets]


def format_table(results) -> str:
    lines = [f'{"set":<20}{"n":>6}' + ''.join(f'{k:>8}'
                                             for k in COD_METRIC_KEYS)]
    for name, values in results.items():
        lines.append(f'{name:<20}{values["num_images"]:>6}' + ''.join(
            f'{values[k]:>8.4f}' for k in COD_METRIC_KEYS))
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    results = {}
    for name, pred_dir, gt_dir in collect_jobs(args):
        results[name] = evaluate_cod_folders(
            pred_dir, gt_dir, with_curves=args.curves,
            allow_missing=args.allow_missing, workers=args.workers,
            progress=True)
        if results[name]['num_missing']:
            print(f'{name}: {results[name]["num_missing"]} mask(s) without '
                  'prediction skipped')
    print(format_table(results))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=1)
        print(f'results written to {args.out}')
    return results


if __name__ == '__main__':
    main()
