"""NUN through the user-facing tools: train, test, demo, and the first
command of a user without COD10K."""
import os.path as osp

import cv2
import numpy as np
import pytest

from ..conftest import format_tiny_config
from .test_train_test_demo import latest_metrics, run

# end-to-end runs of the tools in subprocesses: the slow tier (make test-all)
pytestmark = pytest.mark.slow

TINY_NUN = """
_base_ = ['{root}/configs/nun/nun_tiny_1k_synthetic-cod-degraded-64x64.py']
{tiny_clip}
model = dict(
    encoder=dict(base_channels=8),
    backbone=dict(channels=16, inner_iterations=(2, 2),
                  vss_cfg=dict(d_state=4, expand=1.0),
                  inner_cfg=dict(prior_dim=16)),
    edge_loss_weights=(0, 1 / 2),  # one per stage
    prior=dict(clip_model=tiny_clip, input_size=32))
{tiny_cod_data}
default_hooks = dict(checkpoint=dict(interval=2))
"""


@pytest.fixture(scope='module')
def trained_nun(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('nun')
    config = str(tmp / 'tiny_nun.py')
    with open(config, 'w') as f:
        f.write(format_tiny_config(TINY_NUN))
    work_dir = str(tmp / 'work')
    run('tools/train.py', config, '--work-dir', work_dir)
    return config, str(tmp), osp.join(work_dir, 'iter_2.pth')


def test_nun_test_reports_masks_and_restorations(trained_nun):
    config, tmp, checkpoint = trained_nun
    run('tools/test.py', config, checkpoint, '--work-dir',
        osp.join(tmp, 'test'))
    metrics = latest_metrics(osp.join(tmp, 'test'))
    assert {'SyntheticCOD/Sm', 'SyntheticCOD-haze-medium/MAE'} <= set(metrics)
    # restorations scored on the degraded set only, against the input
    assert metrics['num_images'] == 2 and metrics['num_images_without_gt'] == 2
    assert 'input_PSNR' in metrics


def test_nun_demo_draws_mask_restoration_and_iterates(trained_nun, tmp_path):
    config, _, checkpoint = trained_nun
    from dunseg.datasets import SyntheticCODDataset
    sample = SyntheticCODDataset(
        num_samples=1, img_size=(32, 32), split='test',
        degradation=dict(kind='lowlight', level='medium'))[0]
    image = str(tmp_path / 'dark.png')
    rgb = (sample['img'] * 255).round().astype(np.uint8)
    cv2.imwrite(image, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    out = str(tmp_path / 'demo.png')
    proc = run('demo/image_demo.py', image, config, checkpoint, '--out-file',
               out)
    assert 'restoration chosen per stage' in proc.stdout
    drawing = cv2.imread(out)
    # panels (input, mask, score, restored) + stage grid (mask, background,
    # image rows) + DeRUN iterates (one row per stage), 64 px tiles
    assert drawing.shape[0] == 32 + 3 * 64 + 2 * 64


def test_first_command_without_cod10k_names_the_layout(tmp_path):
    proc = run('tools/train.py', 'configs/nun/nun_r50_160e_cod10k-352x352.py',
               '--work-dir', str(tmp_path / 'w'), '--cfg-options',
               f'train_dataloader.dataset.data_root={tmp_path}/TrainDataset',
               check=False)
    assert proc.returncode != 0
    assert f'{tmp_path}/TrainDataset' in proc.stderr
    assert 'Imgs/' in proc.stderr and 'SINet-V2' in proc.stderr
    assert ('configs/nun/nun_tiny_1k_synthetic-cod-degraded-64x64.py'
            in proc.stderr)
    assert 'Traceback' not in proc.stderr


def test_two_process_train_and_test_equal_single_process(trained_nun):
    from .test_distributed import run as run_dist
    config, tmp, checkpoint = trained_nun
    work_dir = osp.join(tmp, 'dist_train')
    run_dist(['bash', 'tools/dist_train.sh', config, '2', '--work-dir',
              work_dir])
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))
    single, multi = osp.join(tmp, 'single'), osp.join(tmp, 'multi')
    run('tools/test.py', config, checkpoint, '--work-dir', single)
    run_dist(['bash', 'tools/dist_test.sh', config, checkpoint, '2',
              '--work-dir', multi])
    single_metrics, multi_metrics = latest_metrics(single), \
        latest_metrics(multi)
    for key in ('SyntheticCOD/Sm', 'SyntheticCOD-haze-medium/MAE', 'PSNR',
                'input_PSNR'):
        assert multi_metrics[key] == single_metrics[key], key
