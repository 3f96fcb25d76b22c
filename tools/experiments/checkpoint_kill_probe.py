"""Kill training runs with SIGKILL while they save, then check they resume.

    python tools/experiments/checkpoint_kill_probe.py [--repeats 10]

Each trial trains a tiny RPCANet+ (2 stages, 32x32 synthetic images) with
``max_keep_ckpts=1`` and ``save_best``, and kills it with SIGKILL at one of
the moments a save goes through, on a randomly chosen save:

- ``mid-write``: half of the checkpoint's bytes are on disk;
- ``before-rename``: the temporary file is complete but not yet renamed;
- ``after-rename``: the new checkpoint is in place, ``last_checkpoint`` and
  rotation not yet updated;
- ``pointer``: while ``last_checkpoint`` is replaced;
- ``before-remove``: just before rotation deletes an older checkpoint;
- ``random-time``: from outside, at a random moment of the run.

Periodic saves (``iter_N.pth``) and best-checkpoint saves (``best_*.pth``)
are targeted separately. After every kill the probe checks that the work
dir holds a checkpoint that loads with ``weights_only=True``, that the
best checkpoint survived if one had been written, and that
``tools/train.py --resume`` finishes the run and leaves no temporary files.
The child process is this script with ``--child``: it registers a metric
that improves at every validation (so every iteration saves a best
checkpoint), patches the file operations to kill itself at the chosen
moment, then runs tools/train.py.
"""
import argparse
import glob
import json
import os
import os.path as osp
import random
import signal
import subprocess
import sys
import tempfile
import time

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
KILL_POINTS = ('mid-write', 'before-rename', 'after-rename', 'pointer',
               'before-remove', 'random-time')
MAX_ITERS = 8

CONFIG = f"""
_base_ = ['{REPO_ROOT}/configs/rpcanet/'
          'rpcanet-plus_k6b4_0.5k_synthetic-sirst-128x128.py']
model = dict(backbone=dict(num_stages=2))
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True, seed=0),
    dataset=dict(num_samples=16, img_size=(32, 32),
                 target_size_range=(1, 5),
                 pipeline=[dict(type='PackISTDInputs')]))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(num_samples=4, img_size=(32, 32), target_size_range=(1, 5)))
test_dataloader = val_dataloader
train_cfg = dict(type='IterBasedTrainLoop', max_iters={MAX_ITERS},
                 val_interval=1)
# every validation is a new best, so that every iteration saves one
val_evaluator = [dict(type='ISTDMetric'), dict(type='ProbeProgressMetric')]
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=1, max_keep_ckpts=1, save_best='progress',
                    rule='greater'),
    visualization=dict(type='DunSegVisualizationHook', draw=False))
randomness = dict(seed=0, deterministic=True)
"""


# --------------------------------------------------------------- child side
def _install_kill_switch(point: str, target: str, nth: int) -> None:
    """Patch file operations so the process SIGKILLs itself at ``point``
    during the ``nth`` save whose file name contains ``target``."""
    from mmengine.fileio.backends import LocalBackend
    seen = {'saves': 0}

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def is_target(path) -> bool:
        # temporary files are named '.<final name>.tmp-<pid>'
        name = osp.basename(str(path))
        return name.startswith('.' + target) and '.tmp-' in name

    original_put = LocalBackend.put

    def put(self, obj, filepath):
        if is_target(filepath):
            seen['saves'] += 1
            if seen['saves'] == nth and point == 'mid-write':
                with open(filepath, 'wb') as f:
                    f.write(obj[:len(obj) // 2])
                    f.flush()
                die()
        return original_put(self, obj, filepath)

    LocalBackend.put = put
    original_replace = os.replace

    def replace(src, dst):
        armed = seen['saves'] == nth
        if armed and is_target(src) and point == 'before-rename':
            die()
        if armed and point == 'pointer' and \
                osp.basename(str(dst)) == 'last_checkpoint':
            die()
        original_replace(src, dst)
        if armed and is_target(src) and point == 'after-rename':
            die()

    os.replace = replace
    original_remove = os.remove

    def remove(path):
        if (seen['saves'] == nth and point == 'before-remove'
                and str(path).endswith('.pth') and '.tmp-' not in str(path)):
            die()
        original_remove(path)

    os.remove = remove


def _register_progress_metric() -> None:
    from mmengine.evaluator import BaseMetric

    from dunseg.registry import METRICS

    @METRICS.register_module(force=True)
    class ProbeProgressMetric(BaseMetric):
        """A score that grows with every validation of the process."""
        validations = 0

        def process(self, data_batch, data_samples) -> None:
            self.results.append(0)

        def compute_metrics(self, results) -> dict:
            ProbeProgressMetric.validations += 1
            return dict(progress=float(ProbeProgressMetric.validations))


def child_main(argv) -> None:
    point, target, nth = argv[0], argv[1], int(argv[2])
    sys.path.insert(0, REPO_ROOT)
    _register_progress_metric()
    if point not in ('random-time', 'none'):
        _install_kill_switch(point, target, nth)
    sys.argv = [osp.join(REPO_ROOT, 'tools', 'train.py')] + argv[3:]
    import runpy
    runpy.run_path(sys.argv[0], run_name='__main__')


# -------------------------------------------------------------- parent side
def _env():
    return dict(os.environ, PYTHONPATH=REPO_ROOT, HF_HUB_OFFLINE='1',
                OMP_NUM_THREADS='1')


def _loadable(path: str) -> bool:
    import torch
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=True)
    except Exception:  # noqa: BLE001 - any unreadable file counts
        return False
    return isinstance(ckpt, dict) and 'state_dict' in ckpt


def run_trial(work_root: str, config: str, target: str, point: str,
              rng: random.Random, index: int) -> dict:
    from dunseg.engine.checkpoint import find_resumable_checkpoint
    work_dir = osp.join(work_root, f'{target.strip("_")}-{point}-{index}')
    # a save numbered >= 2 so that rotation has something to delete
    nth = rng.randint(2, MAX_ITERS - 1)
    cmd = [sys.executable, osp.abspath(__file__), '--child', point, target,
           str(nth), config, '--work-dir', work_dir]
    if point == 'random-time':
        proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        # wait for the first periodic and best checkpoints (so that a best
        # one must survive), then kill at a random moment
        deadline = time.time() + 300
        while not (glob.glob(osp.join(work_dir, 'iter_*.pth'))
                   and glob.glob(osp.join(work_dir, 'best_*.pth'))):
            if proc.poll() is not None or time.time() > deadline:
                break
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.5))
        proc.send_signal(signal.SIGKILL)
        returncode = proc.wait()
    else:
        returncode = subprocess.run(
            cmd, env=_env(), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL).returncode
    killed = returncode == -signal.SIGKILL
    periodic = sorted(glob.glob(osp.join(work_dir, 'iter_*.pth')))
    best = glob.glob(osp.join(work_dir, 'best_*.pth'))
    resumable = find_resumable_checkpoint(work_dir)
    result = dict(target=target, point=point, save=nth, killed=killed,
                  returncode=returncode,
                  periodic_left=[osp.basename(p) for p in periodic],
                  best_left=[osp.basename(p) for p in best],
                  best_loads=bool(best) and all(map(_loadable, best)),
                  resumable=osp.basename(resumable) if resumable else None)
    resumed = subprocess.run(
        [sys.executable, osp.abspath(__file__), '--child', 'none', target,
         '0', config, '--work-dir', work_dir, '--resume'], env=_env(),
        capture_output=True, text=True)
    result['resume_ok'] = (
        resumed.returncode == 0 and
        osp.isfile(osp.join(work_dir, f'iter_{MAX_ITERS}.pth')))
    if not result['resume_ok']:
        result['resume_error'] = resumed.stderr[-2000:]
    result['temp_files_left'] = [
        osp.basename(p) for p in glob.glob(osp.join(work_dir, '.*.tmp-*'))
    ]
    # A best checkpoint exists from the first validation on (save 1), so
    # a kill on save >= 2 must leave one.
    result['ok'] = bool(killed and resumable and result['resume_ok'] and
                        result['best_loads'] and
                        not result['temp_files_left'])
    return result


def run_probe(repeats: int, work_root: str, seed: int = 0,
              points=KILL_POINTS, targets=('iter_', 'best_')) -> list:
    rng = random.Random(seed)
    os.makedirs(work_root, exist_ok=True)
    config = osp.join(work_root, 'probe_config.py')
    with open(config, 'w') as f:
        f.write(CONFIG)
    results = []
    for target in targets:
        for index in range(repeats):
            point = points[index % len(points)]
            results.append(
                run_trial(work_root, config, target, point, rng, index))
    return results


def main():
    if len(sys.argv) > 1 and sys.argv[1] == '--child':
        child_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=int, default=10,
                        help='kills per target (periodic, best)')
    parser.add_argument('--work-root', default=None,
                        help='where the trial work dirs go (a temporary '
                        'folder by default)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='write the results as JSON here')
    args = parser.parse_args()
    work_root = args.work_root or tempfile.mkdtemp(prefix='kill_probe_')
    results = run_probe(args.repeats, work_root, args.seed)
    print(f'{"target":8} {"kill point":14} {"save":>4} {"killed":>6} '
          f'{"resumable":>16} {"best ok":>7} {"resume":>6} {"ok":>3}')
    for r in results:
        print(f'{r["target"]:8} {r["point"]:14} {r["save"]:>4} '
              f'{str(r["killed"]):>6} {str(r["resumable"]):>16} '
              f'{str(r["best_loads"]):>7} {str(r["resume_ok"]):>6} '
              f'{"yes" if r["ok"] else "NO":>3}')
    failed = [r for r in results if not r['ok']]
    print(f'{len(results) - len(failed)} of {len(results)} trials left a '
          'loadable checkpoint, a loadable best checkpoint and a working '
          '--resume')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=1)
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
