"""Print the fully merged config.

``python tools/misc/print_config.py CONFIG [--cfg-options ...]
[--save-path merged.py]``
"""
import argparse
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)

from mmengine.config import Config, DictAction  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Print the whole config')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, e.g. model.channels_last=False')
    parser.add_argument(
        '--save-path', help='also write the merged config to this file '
        '(.py, .json or .yaml)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    print(f'Config:\n{cfg.pretty_text}')
    if args.save_path is not None:
        cfg.dump(args.save_path)
        print(f'Config saved to {args.save_path}')
    return cfg


if __name__ == '__main__':
    main()
