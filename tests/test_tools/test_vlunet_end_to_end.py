"""VLU-Net through the user-facing tools: train, test, demo, 2-process DDP.

A tiny VLU-Net with a tiny CLIP on 32x32 crops of the embedded
SyntheticDegradationDataset: seconds per run.
"""
import glob
import os.path as osp

import cv2
import pytest

from ..conftest import REPO_ROOT, format_tiny_config
from .test_distributed import run as dist_run
from .test_train_test_demo import latest_metrics, run

# end-to-end runs of the tools in subprocesses: the slow tier (make test-all)
pytestmark = pytest.mark.slow

TINY_VLUNET = """
_base_ = ['{root}/configs/vlunet/'
          'vlunet_tiny_5k_synthetic-degradation-64x64.py']
img_size = 32
{tiny_clip}
# The official y-downsampling leaves down1_2_i without gradients: DDP then
# needs find_unused_parameters, which the CPU wrapper must pass on.
find_unused_parameters = True
model = dict(
    backbone=dict(dim=8, num_blocks=(1, 1, 1, 1), num_refinement_blocks=1,
                  heads=(1, 1, 1, 1), prior_dim=16, key_spatial_base=16,
                  separate_y_downsampler=False),
    prior=dict(clip_model=tiny_clip, input_size=32))
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True, seed=0),
    dataset=dict(num_samples=8, img_size=32))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(num_samples=14, img_size=32))
test_dataloader = val_dataloader
max_iters = 2
param_scheduler = []
train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=2, save_best=None))
randomness = dict(seed=0, deterministic=True)
"""


def write_config(directory):
    path = osp.join(str(directory), 'tiny_vlunet.py')
    with open(path, 'w') as f:
        f.write(format_tiny_config(TINY_VLUNET))
    return path


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('vlunet')
    config = write_config(tmp)
    work_dir = str(tmp / 'work')
    run('tools/train.py', config, '--work-dir', work_dir)
    return config, tmp, osp.join(work_dir, 'iter_2.pth')


def test_train_and_test_report_psnr_per_degradation(trained, tmp_path):
    config, _, checkpoint = trained
    assert osp.isfile(checkpoint)
    work_dir = str(tmp_path / 'test')
    run('tools/test.py', config, checkpoint, '--work-dir', work_dir,
        '--show-dir', 'vis')
    metrics = latest_metrics(work_dir)
    classes = ('denoise_15', 'denoise_25', 'denoise_50', 'dehaze', 'derain',
               'deblur', 'delowlight')
    for name in classes:
        assert f'PSNR_{name}' in metrics and f'input_PSNR_{name}' in metrics
    # one synthetic test set: no per-set rows, but the embedded config's
    # split into crops the prior recognised and misread
    split_rows = [key for key in metrics if '/' in key]
    assert split_rows and all(
        key.endswith(('/recognised', '/misread')) for key in split_rows)
    recognised = sum(metrics.get(f'PSNR_{name}/recognised') is not None
                     for name in classes)
    misread = sum(metrics.get(f'PSNR_{name}/misread') is not None
                  for name in classes)
    assert recognised + misread >= len(classes)
    pictures = glob.glob(osp.join(work_dir, '*', 'vis', '*.png'))
    assert len(pictures) == 14


def test_demo_shows_restoration_stages_and_degradation(trained, tmp_path):
    config, _, checkpoint = trained
    out = str(tmp_path / 'demo.png')
    proc = run('demo/image_demo.py', 'demo/demo_rain.png', config, checkpoint,
               '--out-file', out)
    assert 'recognised degradation' in proc.stdout
    drawing = cv2.imread(out)
    image = cv2.imread(osp.join(REPO_ROOT, 'demo/demo_rain.png'))
    # degraded | restored, then one row of 8 stage tiles
    assert drawing.shape[0] == 2 * image.shape[0]
    assert drawing.shape[1] == 8 * image.shape[1]


def test_two_process_training_and_test(trained):
    config, tmp, _ = trained
    work_dir = str(tmp / 'dist')
    dist_run(['bash', 'tools/dist_train.sh', config, '2', '--work-dir',
              work_dir])
    checkpoint = osp.join(work_dir, 'iter_2.pth')
    assert osp.isfile(checkpoint)
    single_dir, dist_dir = str(tmp / 'single'), str(tmp / 'multi')
    run('tools/test.py', config, checkpoint, '--work-dir', single_dir)
    dist_run(['bash', 'tools/dist_test.sh', config, checkpoint, '2',
              '--work-dir', dist_dir])
    single, dist = latest_metrics(single_dir), latest_metrics(dist_dir)
    assert single['PSNR'] == pytest.approx(dist['PSNR'], abs=0.01)
    assert single['PSNR_derain'] == pytest.approx(dist['PSNR_derain'],
                                                  abs=0.01)


def test_get_flops_reports_backbone_and_prior(trained):
    config, _, _ = trained
    proc = run('tools/analysis_tools/get_flops.py', config, '--shape', '32',
               '32')
    assert 'backbone:' in proc.stdout and 'prior:' in proc.stdout
