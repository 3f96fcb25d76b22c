"""Test a dunseg model: ``python tools/test.py CONFIG CHECKPOINT``."""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from dunseg.engine import CheckpointMismatchError, MissingCheckpointError  # noqa: E402
from dunseg.registry import RUNNERS  # noqa: E402
from dunseg.utils import register_all_modules  # noqa: E402
from dunseg.utils.config import check_config  # noqa: E402
from dunseg.utils.dist_utils import finish_distributed_run  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) a dunseg model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument(
        'checkpoint', nargs='?', default=None,
        help='checkpoint file; omit only for parameter-free models such as '
        'the classical TopHatDetector baseline (or with --random-weights)')
    parser.add_argument(
        '--random-weights', action='store_true',
        help='test a learned model without a checkpoint, on purpose (the '
        'metrics file says so); without it a missing checkpoint is an error')
    parser.add_argument('--work-dir', help='where to save the metrics')
    parser.add_argument(
        '--out', help='dump every prediction (data samples) to this pickle')
    parser.add_argument(
        '--show-dir',
        help='write input/GT/prediction panels and every stage\'s state '
        '(e.g. B/T/N/D for RPCANet) as images to this folder')
    parser.add_argument(
        '--vis-interval', type=int, default=1,
        help='draw every n-th image with --show-dir')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    args = parse_args()
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    cfg.resume = False
    cfg.random_weights = args.random_weights
    if args.show_dir:
        hooks = cfg.default_hooks
        if 'visualization' not in hooks:
            raise KeyError(
                '--show-dir needs default_hooks.visualization '
                "(dict(type='DunSegVisualizationHook')) in the config")
        hooks.visualization.update(
            draw=True, show_dir=args.show_dir, interval=args.vis_interval)
    if args.out is not None:
        cfg.test_evaluator = cfg.test_evaluator if isinstance(
            cfg.test_evaluator, list) else [cfg.test_evaluator]
        cfg.test_evaluator.append(
            dict(type='DumpResults', out_file_path=args.out))
    check_config(cfg, args.config)

    runner = (Runner.from_cfg(cfg) if 'runner_type' not in cfg else
              RUNNERS.build(cfg))
    try:
        runner.test()
    except (FileNotFoundError, FloatingPointError, CheckpointMismatchError,
            MissingCheckpointError) as err:
        # a missing dataset or checkpoint, one that does not fit the model or
        # holds NaN: the message names the file and the fix
        sys.exit(f'tools/test.py: {err}')
    finish_distributed_run()


if __name__ == '__main__':
    main()
