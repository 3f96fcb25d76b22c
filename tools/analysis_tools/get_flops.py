"""Count the multiply-accumulates (MACs) and parameters of a model.

``python tools/analysis_tools/get_flops.py CONFIG [--shape H W] [--batch 1]``

Counts ``model(inputs, mode='tensor')``, the bare network without data
preprocessing or post-processing, on a random input of the given shape.
"""
import argparse
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)

import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402

from dunseg.registry import MODELS  # noqa: E402
from dunseg.utils import register_all_modules  # noqa: E402
from dunseg.utils.complexity import (  # noqa: E402
    complexity_table,
    format_count,
    module_complexity,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Count the MACs and parameters of a model')
    parser.add_argument('config', help='config file with a "model" key')
    parser.add_argument(
        '--shape', type=int, nargs=2, default=[256, 256], metavar=('H', 'W'),
        help='input height and width')
    parser.add_argument('--batch', type=int, default=1, help='batch size')
    parser.add_argument(
        '--per-module', action='store_true',
        help='also print MACs and parameters per module')
    parser.add_argument(
        '--depth', type=int, default=3,
        help='deepest module level shown by --per-module')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, e.g. model.backbone.num_stages=3')
    return parser.parse_args(argv)


def input_channels(cfg: Config) -> int:
    """``in_channels`` of the config's data preprocessor, else 3."""
    preprocessor = cfg.model.get('data_preprocessor') or {}
    return preprocessor.get('in_channels') or 3


def main(argv=None):
    args = parse_args(argv)
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if 'model' not in cfg:
        raise KeyError(f'{args.config} defines no "model"')
    model = MODELS.build(cfg.model).to(args.device)
    height, width = args.shape
    shape = (args.batch, input_channels(cfg), height, width)
    inputs = torch.rand(shape, device=args.device)
    stats = module_complexity(model, inputs)
    macs, params = stats[''].macs, stats[''].params

    split_line = '=' * 64
    print(split_line)
    print(f'Config:      {args.config}')
    print(f'Computed:    model(inputs, mode="tensor") on inputs {shape}')
    print(f'MACs:        {format_count(macs)}  ({macs:,}; one fused '
          'multiply-add = 1 MAC)')
    print(f'FLOPs:       {format_count(2 * macs)}  (= 2 x MACs)')
    print(f'Params:      {format_count(params)}  ({params:,})')
    children = [(name, entry) for name, entry in stats.items()
                if name and '.' not in name and entry.params + entry.macs]
    if len(children) > 1:
        # e.g. a restorer's backbone apart from its frozen CLIP prior head
        for name, entry in children:
            print(f'  {name + ":":<11}{format_count(entry.macs)} MACs, '
                  f'{entry.params:,} params')
    print('Counted:     conv/linear multiply-adds incl. bias, normalisation '
          '2 per element (thop rules). Not counted: activations, pooling, '
          'element-wise tensor arithmetic.')
    print(split_line)
    if args.per_module:
        print(complexity_table(stats, args.depth))
        print(split_line)
    return macs, params


if __name__ == '__main__':
    main()
