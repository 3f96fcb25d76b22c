"""End-to-end runs of the user-facing tools on a tiny synthetic config."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import pytest

from ..conftest import REPO_ROOT, write_tiny_config

ENV = dict(os.environ, PYTHONPATH=REPO_ROOT, HF_HUB_OFFLINE='1',
           OMP_NUM_THREADS='1')


def run(*args, check=True, env=ENV):
    proc = subprocess.run([sys.executable, *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} failed:\n{proc.stdout[-3000:]}\n'
                             f'{proc.stderr[-3000:]}')
    return proc


def latest_metrics(work_dir):
    files = sorted(glob.glob(osp.join(work_dir, '*', '*.json')))
    assert files, f'no metrics json in {work_dir}'
    with open(files[-1]) as f:
        return json.load(f)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Train the tiny model once (4 iterations) for the tests below."""
    tmp = tmp_path_factory.mktemp('trained')
    config = write_tiny_config(tmp, max_iters=4, val_interval=4,
                               ckpt_interval=4)
    work_dir = str(tmp / 'work')
    run('tools/train.py', config, '--work-dir', work_dir)
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    return config, work_dir, checkpoint


def test_train_writes_checkpoint_and_validates(trained):
    config, work_dir, checkpoint = trained
    assert osp.basename(checkpoint) == 'iter_4.pth'
    logs = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(logs[0]) as f:
        records = [json.loads(line) for line in f]
    assert any('loss_softiou' in r for r in records)
    assert any('IoU' in r and 'Pd' in r for r in records)


def test_test_tool_metrics_and_stage_pictures(trained, tmp_path):
    config, _, checkpoint = trained
    work_dir = str(tmp_path / 'test')
    run('tools/test.py', config, checkpoint, '--work-dir', work_dir,
        '--show-dir', 'vis')
    metrics = latest_metrics(work_dir)
    assert {'IoU', 'nIoU', 'F1', 'Pd', 'Fa'} <= set(metrics)
    assert 0 <= metrics['IoU'] <= 100 and metrics['Fa'] >= 0
    pictures = glob.glob(osp.join(work_dir, '*', 'vis', '*.png'))
    assert len(pictures) == 6
    panel = cv2.imread(pictures[0])
    # one 32 px row of panels + 4 state rows (B, T, N, D) of 64 px tiles
    assert panel.shape[0] == 32 + 4 * 64
    assert panel.shape[1] >= 2 * 64  # two stages side by side


def test_demo_draws_mask_and_stages(trained, tmp_path):
    config, _, checkpoint = trained
    out = str(tmp_path / 'demo.png')
    proc = run('demo/image_demo.py', 'demo/demo_ir.png', config, checkpoint,
               '--out-file', out)
    assert 'target region(s)' in proc.stdout
    drawing = cv2.imread(out)
    image = cv2.imread(osp.join(REPO_ROOT, 'demo/demo_ir.png'))
    # input row (input | prediction | score) above the B/T/N/D grid
    assert drawing.shape[0] == image.shape[0] * 5
    assert drawing.shape[1] == image.shape[1] * 3


def test_resume_auto_continues_from_latest(tmp_path):
    config = write_tiny_config(tmp_path, max_iters=2, val_interval=100,
                               ckpt_interval=2)
    work_dir = str(tmp_path / 'work')
    run('tools/train.py', config, '--work-dir', work_dir)
    proc = run('tools/train.py', config, '--work-dir', work_dir, '--resume',
               '--cfg-options', 'train_cfg.max_iters=3')
    assert 'resumed' in (proc.stdout + proc.stderr).lower()
    assert osp.isfile(osp.join(work_dir, 'iter_3.pth'))


def test_clear_errors(tmp_path):
    config = write_tiny_config(
        tmp_path, extra="\ntrain_dataloder = dict()\n")
    proc = run('tools/train.py', config, check=False)
    assert proc.returncode != 0
    assert 'did you mean "train_dataloader"' in proc.stderr

    config = write_tiny_config(
        tmp_path, extra="\nmodel = dict(backbone=dict(type='RPCANetPlusPlus'))\n")
    proc = run('tools/train.py', config, '--work-dir', str(tmp_path / 'w'),
               check=False)
    assert 'RPCANetPlusPlus is not in the' in proc.stderr

    missing = str(tmp_path / 'nowhere' / 'NUDT-SIRST')
    proc = run('tools/train.py',
               'configs/rpcanet/rpcanet_k6_400e_nudt-sirst-256x256.py',
               '--work-dir', str(tmp_path / 'w2'), '--cfg-options',
               f'train_dataloader.dataset.data_root={missing}',
               f'val_dataloader.dataset.data_root={missing}',
               'train_dataloader.num_workers=0',
               'train_dataloader.persistent_workers=False', check=False)
    assert proc.returncode != 0
    assert missing in proc.stderr
