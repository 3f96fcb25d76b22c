"""RUN through the user-facing tools: train, test (metrics per test set,
drawings), demo, get_flops, benchmark and 2-process train/test.

A tiny RUN (ResNet-18 encoder at width 8, RUN at 16 channels, VSS with
d_state 4) on 32x32 SyntheticCOD images, trained once for 2 iterations and
shared by the tests below.
"""
import glob
import importlib.util
import json
import os.path as osp
import re

import cv2
import numpy as np
import pytest

from ..conftest import REPO_ROOT, format_tiny_config
from .test_train_test_demo import latest_metrics, run

# end-to-end runs of the tools in subprocesses: the slow tier (make test-all)
pytestmark = pytest.mark.slow

TINY_RUN = """
_base_ = ['{root}/configs/run/run_tiny_1.4k_synthetic-cod-64x64.py']
model = dict(
    encoder=dict(base_channels=8),
    backbone=dict(channels=16, sparsity_channels=8,
                  vss_cfg=dict(d_state=4, expand=1.0)),
    uncertainty_loss=dict(ramp_iters=2))
{tiny_cod_data}
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2))
"""
SETS = ('SyntheticCOD', 'SyntheticCOD-haze-medium')
COD_KEYS = ('Sm', 'wFm', 'MAE', 'adpEm', 'meanEm', 'maxEm', 'adpFm',
            'meanFm', 'maxFm')
TILE = 64  # the visualiser draws the stage grid of 32 px images at 64 px
# RUN's stage grid, one row per state in the order the model produces them:
# mask (prior M_0 and stages 4..1), background (B_0 and stages 4..1), edge
# (stages 4..1), mask_hat (RSC) and mask_ss (RSS) of stage 4
GRID_ROWS = (('mask', 5), ('background', 5), ('edge', 4), ('mask_hat', 1),
             ('mask_ss', 1))


@pytest.fixture(scope='module')
def trained_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('run')
    config = str(tmp / 'tiny_run.py')
    with open(config, 'w') as f:
        f.write(format_tiny_config(TINY_RUN))
    work_dir = str(tmp / 'work')
    run('tools/train.py', config, '--work-dir', work_dir)
    return config, str(tmp), osp.join(work_dir, 'iter_2.pth')


def check_stage_grid(drawing, panel_height):
    """The rows below the panels: GRID_ROWS, each tile labelled (never
    all black), black padding after the row's last stage."""
    assert drawing.shape[0] == panel_height + len(GRID_ROWS) * TILE
    assert drawing.shape[1] == 5 * TILE  # the widest row: five states
    for row, (name, stages) in enumerate(GRID_ROWS):
        top = panel_height + row * TILE
        tiles = [drawing[top:top + TILE, k * TILE:(k + 1) * TILE]
                 for k in range(5)]
        assert all(t.any() for t in tiles[:stages]), name
        assert not any(t.any() for t in tiles[stages:]), name


@pytest.fixture(scope='module')
def tested_run(trained_run):
    """One single-process ``tools/test.py --show-dir`` run: its metrics
    (test 1, and the reference of the 2-process test) and drawings."""
    config, tmp, checkpoint = trained_run
    work_dir = osp.join(tmp, 'test')
    run('tools/test.py', config, checkpoint, '--work-dir', work_dir,
        '--show-dir', 'vis')
    return latest_metrics(work_dir), sorted(
        glob.glob(osp.join(work_dir, '*', 'vis', '*.png')))


def test_train_then_test_reports_cod_metrics_per_test_set(trained_run,
                                                          tested_run):
    _, tmp, checkpoint = trained_run
    assert osp.isfile(checkpoint)
    logs = glob.glob(osp.join(tmp, 'work', '*', 'vis_data', 'scalars.json'))
    with open(logs[0]) as f:
        records = [json.loads(line) for line in f]
    # RUN's losses were logged, and training validated on the clean set
    assert any('loss_ual' in r and 'loss_edge_k1' in r for r in records)
    assert any('SyntheticCOD/Sm' in r for r in records)
    metrics, _ = tested_run
    for name in SETS:
        assert metrics[f'{name}/num_images'] == 2
        for key in COD_KEYS:
            assert 0 <= metrics[f'{name}/{key}'] <= 1, (name, key)
    # the haze changes the input, so the masks and their scores
    assert metrics['SyntheticCOD/MAE'] != \
        metrics['SyntheticCOD-haze-medium/MAE']
    # the unprefixed figures are the mean over the two sets
    assert metrics['Sm'] == pytest.approx(
        (metrics['SyntheticCOD/Sm'] + metrics['SyntheticCOD-haze-medium/Sm'])
        / 2)


def test_show_dir_draws_every_image_of_every_set_with_stages(tested_run):
    _, pictures = tested_run
    # both sets name their images 0 and 1: one drawing each, not two
    assert [osp.basename(p) for p in pictures] == [
        'SyntheticCOD-haze-medium_0.png', 'SyntheticCOD-haze-medium_1.png',
        'SyntheticCOD_0.png', 'SyntheticCOD_1.png'
    ]
    drawings = {osp.basename(p)[:-4]: cv2.imread(p) for p in pictures}
    for drawing in drawings.values():
        # panels of the 32 px image: input | GT | prediction | score | clean
        check_stage_grid(drawing, 32)
    # the hazy input is drawn, not the clean one twice
    hazy = drawings['SyntheticCOD-haze-medium_0'][16:32, :32]
    clean = drawings['SyntheticCOD_0'][16:32, :32]
    assert np.abs(hazy.astype(int) - clean).mean() > 5


def test_demo_draws_mask_edges_and_every_stage(trained_run, tmp_path):
    config, _, checkpoint = trained_run
    from dunseg.datasets import SyntheticCODDataset
    sample = SyntheticCODDataset(num_samples=1, img_size=(32, 32),
                                 split='test')[0]
    image = str(tmp_path / 'object.png')
    rgb = (sample['img'] * 255).round().astype(np.uint8)
    cv2.imwrite(image, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    out = str(tmp_path / 'demo.png')
    proc = run('demo/image_demo.py', image, config, checkpoint, '--out-file',
               out)
    found = re.search(r'object\.png: (\d+) target region\(s\), (\d+) target '
                      r'pixel\(s\)', proc.stdout)
    assert found, proc.stdout
    assert int(found[2]) <= 32 * 32 and (int(found[1]) > 0) == (
        int(found[2]) > 0)
    assert f'drawing written to {out}' in proc.stdout
    drawing = cv2.imread(out)
    # input | prediction | score (no ground truth), then the stage grid
    panels = drawing[:32]
    assert panels[:, :3 * 32].any() and not panels[:, 3 * 32:].any()
    check_stage_grid(drawing, 32)


def load_tool(name):
    spec = importlib.util.spec_from_file_location(
        f'run_e2e_{name}',
        osp.join(REPO_ROOT, 'tools', 'analysis_tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_get_flops_and_benchmark_on_run(trained_run, tmp_path, capsys):
    config, _, checkpoint = trained_run
    from mmengine.config import Config

    from dunseg.registry import MODELS
    from dunseg.utils import register_all_modules
    register_all_modules()
    model = MODELS.build(Config.fromfile(config).model)
    num_params = sum(p.numel() for p in model.parameters())

    macs, params = load_tool('get_flops').main(
        [config, '--shape', '32', '32', '--per-module', '--depth', '2'])
    out = capsys.readouterr().out
    assert params == num_params and macs > 0
    assert f'({macs:,}; one fused' in out and f'({params:,})' in out
    assert 'on inputs (1, 3, 32, 32)' in out
    parts = dict(
        (name, int(count.replace(',', ''))) for name, count in re.findall(
            r'^  (encoder|backbone): .* MACs, ([\d,]+) params$', out, re.M))
    assert parts['encoder'] + parts['backbone'] == num_params
    for module in ('CODSegmentor', 'RUNUnfolding', 'background_net',
                   'reverse_units', 'state_space'):
        assert module in out, module

    # the train step needs RUN's edge ground truth in the synthetic batch
    report_file = str(tmp_path / 'bench.json')
    report = load_tool('benchmark').main([
        config, '--checkpoint', checkpoint, '--shape', '32', '32',
        '--batch-size', '2', '--mode', 'both', '--warmup', '0', '--repeat',
        '1', '--matmul-size', '64', '--no-isolate', '--out', report_file
    ])
    out = capsys.readouterr().out
    with open(report_file) as f:
        assert json.load(f)['params'] == report['params'] == num_params
    assert report['macs_per_image'] == macs
    assert [r['mode'] for r in report['results']] == ['infer', 'train']
    for result in report['results']:
        assert result['batch_size'] == 2 and result['shape'] == (32, 32)
        assert result['images_per_s_best'] > 0 and result['ms_best'] > 0
    assert f'Params:   {num_params:,}' in out
    assert 'inference (eval, no_grad): batch 2 x 32x32' in out
    assert 'train step (forward + loss + backward + Adam step): batch 2 x ' \
        '32x32' in out
    assert out.count('of torch.mm:') == 2


def test_two_process_train_and_test_equal_single_process(trained_run,
                                                          tested_run):
    import torch

    from .test_distributed import run as run_dist
    config, tmp, checkpoint = trained_run
    work_dir = osp.join(tmp, 'dist_train')
    run_dist(['bash', 'tools/dist_train.sh', config, '2', '--work-dir',
              work_dir])
    with open(glob.glob(osp.join(work_dir, '*', '*.log'))[0]) as f:
        assert 'Distributed training: True' in f.read()
    # the DDP checkpoint holds the bare model's weights, as a single run's
    state = torch.load(osp.join(work_dir, 'iter_2.pth'), map_location='cpu',
                       weights_only=False)['state_dict']
    single_state = torch.load(checkpoint, map_location='cpu',
                              weights_only=False)['state_dict']
    assert list(state) == list(single_state)
    multi = osp.join(tmp, 'multi')
    run_dist(['bash', 'tools/dist_test.sh', config, checkpoint, '2',
              '--work-dir', multi])
    single_metrics, multi_metrics = tested_run[0], latest_metrics(multi)
    keys = [f'{name}/{key}' for name in SETS
            for key in COD_KEYS + ('num_images', )]
    assert set(keys) <= set(multi_metrics)
    for key in keys:
        assert multi_metrics[key] == single_metrics[key], key
