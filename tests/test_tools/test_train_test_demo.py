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

# end-to-end runs of the tools in subprocesses: the slow tier (make test-all)
pytestmark = pytest.mark.slow

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
        tmp_path,
        extra="\nmodel = dict(backbone=dict(type='RPCANetPlusPlus'))\n")
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


def test_checkpoint_of_another_model_is_refused(trained, tmp_path):
    config, _, checkpoint = trained  # a 2-stage RPCANet+
    three_stages = write_tiny_config(
        tmp_path, extra='\nmodel = dict(backbone=dict(num_stages=3))\n')
    proc = run('tools/test.py', three_stages, checkpoint, '--work-dir',
               str(tmp_path / 'w'), check=False)
    assert proc.returncode != 0
    assert 'does not fit the model' in proc.stderr
    assert 'missing in the checkpoint' in proc.stderr
    assert 'Traceback' not in proc.stderr

    import torch
    foreign = str(tmp_path / 'foreign.pth')
    torch.save({'encoder.weight': torch.zeros(3)}, foreign)
    proc = run('demo/image_demo.py', 'demo/demo_ir.png', config, foreign,
               '--out-file', str(tmp_path / 'x.png'), check=False)
    assert proc.returncode != 0
    assert 'unexpected: encoder.weight' in proc.stderr
    assert 'Traceback' not in proc.stderr
    assert not osp.exists(tmp_path / 'x.png')


def test_demo_rejects_non_finite_and_missing_images(trained, tmp_path):
    import numpy as np
    config, _, checkpoint = trained
    image = np.full((32, 32), 0.5, np.float32)
    image[3, 4] = np.nan
    bad = str(tmp_path / 'nan_frame.tiff')
    assert cv2.imwrite(bad, image)
    proc = run('demo/image_demo.py', bad, config, checkpoint, '--out-file',
               str(tmp_path / 'x.png'), check=False)
    assert proc.returncode != 0
    assert 'nan_frame.tiff' in proc.stderr and 'NaN' in proc.stderr
    assert 'target region' not in proc.stdout

    missing = str(tmp_path / 'no_such_frame.png')
    proc = run('demo/image_demo.py', missing, config, checkpoint, check=False)
    assert proc.returncode != 0
    assert f'image file not found: {missing!r}' in proc.stderr
    assert 'data_root' not in proc.stderr


def test_resume_with_a_mistyped_work_dir_stops(tmp_path):
    config = write_tiny_config(tmp_path, max_iters=1, val_interval=100)
    typo = str(tmp_path / 'wrok')
    proc = run('tools/train.py', config, '--work-dir', typo, '--resume',
               check=False)
    assert proc.returncode != 0
    assert 'nothing to resume' in proc.stderr and typo in proc.stderr
    assert not glob.glob(osp.join(typo, '*.pth'))
    run('tools/train.py', config, '--work-dir', typo, '--resume-if-possible')
    assert osp.isfile(osp.join(typo, 'iter_1.pth'))


def test_ctrl_c_leaves_a_resumable_work_dir_without_traceback(tmp_path):
    import signal
    import time
    config = write_tiny_config(tmp_path, max_iters=400, val_interval=1000,
                               ckpt_interval=1)
    work_dir = str(tmp_path / 'work')
    proc = subprocess.Popen(
        [sys.executable, 'tools/train.py', config, '--work-dir', work_dir],
        cwd=REPO_ROOT, env=ENV, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not glob.glob(osp.join(work_dir, 'iter_2.pth')):
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert 'Traceback' not in stderr and '--resume' in stderr
    # it names what was saved, never "nothing new was saved" after a save
    assert 'the last complete checkpoint is' in stderr
    assert 'nothing new' not in stderr
    assert not glob.glob(osp.join(work_dir, '.*tmp*'))
    last = max(int(osp.basename(p)[5:-4])
               for p in glob.glob(osp.join(work_dir, 'iter_*.pth')))
    run('tools/train.py', config, '--work-dir', work_dir, '--resume',
        '--cfg-options', f'train_cfg.max_iters={last + 1}')
    assert osp.isfile(osp.join(work_dir, f'iter_{last + 1}.pth'))
