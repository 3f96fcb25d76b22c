"""Train a dunseg model: ``python tools/train.py CONFIG [--work-dir DIR]``."""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from dunseg.engine.amp import AMP_DTYPES, amp_optim_wrapper_cfg  # noqa: E402
from dunseg.engine.checkpoint import (  # noqa: E402
    CheckpointMismatchError,
    read_last_checkpoint_pointer,
)
from dunseg.registry import RUNNERS  # noqa: E402
from dunseg.utils import register_all_modules  # noqa: E402
from dunseg.utils.config import check_config  # noqa: E402
from dunseg.utils.dist_utils import finish_distributed_run  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description='Train a dunseg model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or without a value from the '
        'latest checkpoint in the work dir (an error if there is none)')
    parser.add_argument(
        '--resume-if-possible', action='store_true',
        help='resume from the latest checkpoint in the work dir if there is '
        'one, else start from scratch')
    parser.add_argument(
        '--overwrite', action='store_true',
        help='train from scratch into a work dir that already holds '
        'checkpoints, replacing them (without it that is an error)')
    parser.add_argument(
        '--amp', nargs='?', const='auto', choices=AMP_DTYPES,
        help='train in mixed precision: on a CUDA device MMEngine\'s '
        'AmpOptimWrapper (float16 with a dynamic loss scale, or bfloat16), '
        'on a CPU a bfloat16 autocast (CPUAmpOptimWrapper); the value picks '
        'the dtype (default: float16 on CUDA, bfloat16 on a CPU)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, e.g. train_cfg.max_epochs=2')
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
    if args.amp:
        try:
            cfg.optim_wrapper = amp_optim_wrapper_cfg(cfg.optim_wrapper,
                                                      args.amp)
        except ValueError as err:
            raise SystemExit(f'tools/train.py: {args.config}: {err}')
    if args.resume_if_possible and args.resume not in (None, 'auto'):
        raise SystemExit('--resume-if-possible resumes from the work dir; '
                         'drop it when --resume names a checkpoint')
    if args.resume == 'auto' or args.resume_if_possible:
        cfg.resume = True
        cfg.resume_if_possible = args.resume_if_possible
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.overwrite:
        cfg.overwrite_work_dir = True
    check_config(cfg, args.config)

    runner = (Runner.from_cfg(cfg) if 'runner_type' not in cfg else
              RUNNERS.build(cfg))
    random_parts = getattr(runner, 'random_init_parts', lambda: [])()
    if random_parts:
        print('tools/train.py: starting from random weights: ' + ', '.join(
            f'{key} ({weights})' for key, weights in random_parts) +
            '; set these keys to local weight files to follow the paper\'s '
            'recipe', flush=True)
    try:
        runner.train()
    except (FileNotFoundError, FileExistsError, FloatingPointError,
            CheckpointMismatchError) as err:
        # a missing dataset or weight file, a work dir holding another run,
        # a diverged run or a checkpoint that does not fit: the message
        # names the file or iteration and the fix; the traceback adds nothing
        sys.exit(f'tools/train.py: {err}')
    except KeyboardInterrupt:
        # Checkpoints are written atomically, so the work dir holds only
        # complete ones: say where to pick up instead of a long traceback.
        last = read_last_checkpoint_pointer(cfg.work_dir)
        saved = (f'the last complete checkpoint is {last}' if last else
                 'no checkpoint was saved yet')
        print(f'\ninterrupted at iteration {runner.iter}; {saved}. '
              f'Continue with:\n  python tools/train.py {args.config} '
              f'--work-dir {cfg.work_dir} --resume', file=sys.stderr)
        sys.exit(130)
    finish_distributed_run()


if __name__ == '__main__':
    main()
