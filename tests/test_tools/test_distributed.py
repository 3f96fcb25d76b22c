"""Two CPU processes (torchrun + gloo) through tools/dist_*.sh."""
import glob
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest

from ..conftest import REPO_ROOT, write_tiny_config

# end-to-end runs of the tools in subprocesses: the slow tier (make test-all)
pytestmark = pytest.mark.slow


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return str(s.getsockname()[1])


def env():
    return dict(os.environ, PYTHON=sys.executable, PORT=free_port(),
                PYTHONPATH=REPO_ROOT, HF_HUB_OFFLINE='1', OMP_NUM_THREADS='1',
                CUDA_VISIBLE_DEVICES='')


def run(cmd):
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env(), capture_output=True,
                          text=True, timeout=600)
    if proc.returncode != 0:
        raise AssertionError(f'{cmd} failed:\n{proc.stdout[-3000:]}\n'
                             f'{proc.stderr[-3000:]}')
    return proc


def metrics(work_dir):
    files = sorted(glob.glob(osp.join(work_dir, '*', '*.json')))
    with open(files[-1]) as f:
        values = json.load(f)
    return {k: values[k] for k in ('IoU', 'nIoU', 'F1', 'Pd', 'Fa')}


@pytest.fixture(scope='module')
def dist_trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('dist')
    config = write_tiny_config(tmp, max_iters=2, val_interval=2,
                               ckpt_interval=2)
    work_dir = str(tmp / 'train')
    run(['bash', 'tools/dist_train.sh', config, '2', '--work-dir', work_dir])
    return config, tmp, osp.join(work_dir, 'iter_2.pth')


def test_two_process_training_writes_checkpoint(dist_trained):
    _, _, checkpoint = dist_trained
    assert osp.isfile(checkpoint)


def test_two_process_test_matches_single_process(dist_trained):
    config, tmp, checkpoint = dist_trained
    single_dir, dist_dir = str(tmp / 'single'), str(tmp / 'multi')
    run([sys.executable, 'tools/test.py', config, checkpoint, '--work-dir',
         single_dir])
    run(['bash', 'tools/dist_test.sh', config, checkpoint, '2', '--work-dir',
         dist_dir])
    # Exact on purpose: both runs execute the same code on the same samples
    # (each rank scores its shard one image at a time), so equality must hold
    # whatever the processor; a difference means a sample was lost, doubled
    # or reordered in the gather.
    assert metrics(dist_dir) == metrics(single_dir)
