"""Tests of tools/analysis_tools (with tools/misc/print_config.py and
tools/experiments/nun_iterate_fidelity.py) and the complexity/benchmark
utilities."""
import importlib.util
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from torch import nn

from dunseg.registry import MODELS
from dunseg.utils import register_all_modules
from dunseg.utils.benchmark import (
    benchmark_config,
    benchmark_model,
    build_benchmark_model,
    step_breakdown,
    time_matmul,
)
from dunseg.utils.complexity import count_macs, module_complexity

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = osp.join(REPO_ROOT, 'tools')

# A one-stage, 4-channel RPCANet: a train step on 16 x 16 takes milliseconds.
TINY_MODEL_CONFIG = """
model = dict(
    type='UnfoldingSegmentor',
    data_preprocessor=dict(type='DunSegDataPreprocessor', in_channels=1),
    backbone=dict(type='RPCANet', num_stages=1, channels=4,
                  background_layers=1, target_layers=1, merge_layers=1),
    decode_head=dict(type='StateMaskHead', state_key='T',
                     loss_decode=dict(type='SoftIoULoss', smooth=1.0)),
    reconstruction_loss=dict(type='MSELoss', loss_weight=0.1,
                             loss_name='loss_fidelity'),
    channels_last=True)
"""


def load_tool(name, folder='analysis_tools'):
    spec = importlib.util.spec_from_file_location(
        f'{folder}_{name}', osp.join(TOOLS, folder, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def tiny_config(tmp_path):
    path = tmp_path / 'tiny_rpcanet.py'
    path.write_text(TINY_MODEL_CONFIG)
    return str(path)


def build_from_config(path, **model_overrides):
    register_all_modules()
    cfg = Config.fromfile(path)
    cfg.model.update(model_overrides)
    return MODELS.build(cfg.model)


# ------------------------------------------------------------------ MACs
def test_count_macs_of_one_conv_by_hand():
    # Conv2d 1 -> 2, 3x3, padding 1 on a 4x4 image: 2 x 4 x 4 = 32 output
    # values, each 1 x 3 x 3 = 9 multiply-adds (zero-padded taps included,
    # as thop counts) + 1 bias add = 10 MACs -> 320 MACs.
    # Parameters: 2 x 1 x 3 x 3 weights + 2 biases = 20.
    conv = nn.Conv2d(1, 2, 3, padding=1)
    assert count_macs(conv, torch.rand(1, 1, 4, 4)) == (320, 20)

    # Without the bias: 32 x 9 = 288 MACs, 18 parameters. Batch 3 triples it.
    conv = nn.Conv2d(1, 2, 3, padding=1, bias=False)
    assert count_macs(conv, torch.rand(3, 1, 4, 4)) == (3 * 288, 18)

    # + BatchNorm2d(2): scale and shift = 2 per element -> 288 + 2 x 32 = 352;
    # BN adds 2 x 2 parameters (running statistics are buffers).
    net = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1, bias=False), nn.BatchNorm2d(2),
        nn.ReLU())
    assert count_macs(net, torch.rand(1, 1, 4, 4)) == (352, 22)


def test_module_complexity_restores_mode_and_running_stats():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2))
    net.train()
    running_mean = net[1].running_mean.clone()
    stats = module_complexity(net, torch.rand(2, 1, 4, 4) + 5)
    assert net.training and net[1].training
    assert torch.equal(net[1].running_mean, running_mean)
    # Parents sum their children: conv 2*32*10 + BN 2*(2*32).
    assert stats['0'].macs == 640 and stats['1'].macs == 128
    assert stats[''].macs == 768 and stats[''].params == 20 + 4


@pytest.mark.parametrize('config, official_macs, params', [
    ('rpcanet.py', 44.6e9, 679_896),
    ('rpcanet_plus.py', 13.9e9, 215_916),
])
@pytest.mark.slow
def test_count_macs_matches_published_figures(config, official_macs, params):
    model = build_from_config(
        osp.join(REPO_ROOT, 'configs', '_base_', 'models', config))
    macs, counted_params = count_macs(model, torch.rand(1, 1, 256, 256))
    assert counted_params == params
    assert abs(macs - official_macs) / official_macs < 0.03


def test_get_flops_tool(tiny_config, capsys):
    get_flops = load_tool('get_flops')
    macs, params = get_flops.main(
        [tiny_config, '--shape', '16', '20', '--per-module'])
    expected = count_macs(
        build_from_config(tiny_config), torch.rand(1, 1, 16, 20))
    assert (macs, params) == expected
    out = capsys.readouterr().out
    assert 'one fused multiply-add = 1 MAC' in out
    assert '(1, 1, 16, 20)' in out  # channels from data_preprocessor
    assert 'backbone' in out and 'MACs %' in out  # the per-module table


# -------------------------------------------------------------- benchmark
RESULT_KEYS = {
    'mode', 'batch_size', 'shape', 'device', 'threads', 'warmup', 'repeat',
    'times_s', 'ms_median', 'ms_best', 'images_per_s_median',
    'images_per_s_best', 'macs_per_image', 'flops_per_iteration',
    'gflops_median', 'gflops_best', 'peak_memory_mib', 'memory_method',
    'load_average'
}


@pytest.mark.parametrize('mode', ['infer', 'train'])
def test_benchmark_model_returns_all_figures(tiny_config, mode):
    model = build_from_config(tiny_config)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = benchmark_model(
        model, shape=(16, 16), batch_size=2, mode=mode, warmup=1, repeat=2)
    assert RESULT_KEYS <= set(result)
    assert result['mode'] == mode and len(result['times_s']) == 2
    macs, _ = count_macs(model, torch.rand(1, 1, 16, 16))
    assert result['macs_per_image'] == macs
    # 2 FLOPs per MAC, 2 images, and a train step counts 3 forwards.
    assert result['flops_per_iteration'] == 2 * macs * 2 * (
        3 if mode == 'train' else 1)
    assert result['peak_memory_mib'] >= 0
    changed = any(not torch.equal(before[k], v)
                  for k, v in model.state_dict().items())
    assert changed == (mode == 'train')  # the train step ran Adam


def test_benchmark_config_and_matmul_reference(tiny_config):
    model_cfg = Config.fromfile(tiny_config).model.to_dict()
    report = benchmark_config(
        model_cfg, shape=(16, 16), batch_sizes=dict(train=2),
        modes=('infer', 'train'), warmup=0, repeat=1, matmul_size=64,
        isolate=False)
    assert {'params', 'macs_per_image', 'matmul', 'results', 'environment',
            'cpu'} <= set(report)
    assert report['matmul']['gflops_best'] > 0
    infer, train = report['results']
    assert (infer['batch_size'], train['batch_size']) == (1, 2)
    for result in report['results']:
        assert result['mm_fraction_best'] == pytest.approx(
            result['gflops_best'] / report['matmul']['gflops_best'])


@pytest.mark.slow
def test_benchmark_tool_in_fresh_processes(tiny_config, tmp_path, capsys):
    # One isolated (spawned) measurement: the default, used for peak memory.
    benchmark = load_tool('benchmark')
    out_json = tmp_path / 'bench.json'
    report = benchmark.main([
        tiny_config, '--shape', '16', '16', '--repeat', '1', '--warmup', '0',
        '--matmul-size', '64', '--out',
        str(out_json), '--cfg-options', 'model.channels_last=False'
    ])
    assert report['results'][0]['mode'] == 'infer'
    assert json.loads(out_json.read_text())['params'] == report['params']
    out = capsys.readouterr().out
    assert 'GFLOP/s = 2 x MACs' in out and 'of torch.mm' in out


class _SlowStages(nn.Module):
    """Two stages in a ModuleList, the second called twice and sleeping
    10 ms per call: the breakdown must find it and count its calls."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 2, 3, padding=1)
        self.stages = nn.ModuleList([nn.Conv2d(2, 2, 1), _Sleep(0.01)])

    def loss(self, inputs, data_samples):
        x = self.stem(inputs)
        x = self.stages[1](self.stages[0](x))
        x = self.stages[1](x)
        return dict(loss=x.mean())


class _Sleep(nn.Conv2d):

    def __init__(self, seconds):
        super().__init__(2, 2, 1)
        self.seconds = seconds

    def forward(self, x):
        import time
        time.sleep(self.seconds)
        return super().forward(x)


def test_step_breakdown_attributes_forward_time():
    report = step_breakdown(_SlowStages(), shape=(8, 8), batch_size=2,
                            depth=1, warmup=1, repeat=2)
    phases = report['phases_ms']
    assert set(phases) == {'forward', 'backward', 'optimizer', 'step'}
    assert phases['step'] >= phases['forward'] >= 20  # two 10 ms sleeps
    rows = {name: (calls, ms, share)
            for name, calls, ms, share in report['modules']}
    # the ModuleList is transparent: its members are listed, it is not
    assert set(rows) == {'stem', 'stages.0', 'stages.1'}
    assert report['modules'][0][0] == 'stages.1'
    calls, ms, share = rows['stages.1']
    assert calls == 2 and ms >= 20 and 0.5 < share <= 1.0
    assert rows['stem'][0] == 1
    with pytest.raises(ValueError, match='depth'):
        step_breakdown(_SlowStages(), depth=0)


def test_benchmark_tool_breakdown(tiny_config, capsys):
    tool = load_tool('benchmark')
    report = tool.main([tiny_config, '--breakdown', '2', '--shape', '16',
                        '16', '--repeat', '1', '--warmup', '1'])
    assert report['modules'] and report['modules'][0][0] == 'backbone'
    out = capsys.readouterr().out
    assert 'train step' in out and 'backbone' in out


def test_time_matmul_keys():
    result = time_matmul(size=32, repeat=2, warmup=1)
    assert set(result) == {
        'size', 'best_s', 'median_s', 'gflops_best', 'gflops_median'
    }
    assert result['gflops_best'] >= result['gflops_median'] > 0


def test_build_benchmark_model_loads_checkpoint(tiny_config, tmp_path):
    model = build_from_config(tiny_config)
    checkpoint = tmp_path / 'tiny.pth'
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    loaded = build_benchmark_model(
        Config.fromfile(tiny_config).model.to_dict(), str(checkpoint))
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)


# ---------------------------------------------------------- analyze_logs
def write_scalars(path, by_epoch=False):
    lines = []
    for step in range(1, 7):
        entry = dict(lr=1e-3, loss=1.0 / step, loss_softiou=0.9 / step,
                     time=0.5 + 0.1 * (step == 1), data_time=0.01,
                     iter=step, memory=10, step=step)
        if by_epoch:
            entry.update(epoch=(step - 1) // 3 + 1, iter=(step - 1) % 3 + 1)
        lines.append(entry)
        if step % 3 == 0:
            # validation step: an iteration, or an epoch in epoch-based runs
            lines.append(dict(IoU=0.2 * step / 3, nIoU=0.1, Pd=0.5, Fa=1e-5,
                              step=step // 3 if by_epoch else step))
    path.write_text(''.join(json.dumps(line) + '\n' for line in lines))
    return str(path)


def test_plot_curve_writes_png(tmp_path):
    analyze_logs = load_tool('analyze_logs')
    log_a = write_scalars(tmp_path / 'a.json')
    log_b = write_scalars(tmp_path / 'b.json', by_epoch=True)
    out = tmp_path / 'curves.png'
    analyze_logs.main([
        'plot_curve', log_a, log_b, '--keys', 'loss', 'IoU', '--legend', 'a',
        'b', '--out', str(out)
    ])
    assert out.stat().st_size > 0
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'

    with pytest.raises(KeyError, match='available keys'):
        analyze_logs.main(
            ['plot_curve', log_a, '--keys', 'mIoU', '--out', str(out)])


def test_validation_entries_share_the_iteration_axis(tmp_path):
    analyze_logs = load_tool('analyze_logs')
    for by_epoch in (False, True):
        train, val = analyze_logs.load_scalars(
            write_scalars(tmp_path / f'{by_epoch}.json', by_epoch))
        assert len(train) == 6 and len(val) == 2
        # epoch 1 ends at iteration 3, epoch 2 at 6
        assert analyze_logs.curve(train, val, 'IoU')[0] == [3, 6]
        assert analyze_logs.curve(train, val, 'loss')[0] == list(range(1, 7))


def test_cal_train_time(tmp_path, capsys):
    analyze_logs = load_tool('analyze_logs')
    log = write_scalars(tmp_path / 'scalars.json')
    (summary, ) = analyze_logs.main(['cal_train_time', log])
    # the first (start-up) interval of 0.6 s is left out
    assert summary['mean_s'] == pytest.approx(0.5)
    assert summary['iterations'] == 6
    assert 'average iter time' in capsys.readouterr().out


# ---------------------------------------------------------- print_config
def test_print_config(tmp_path, capsys):
    print_config = load_tool('print_config', 'misc')
    config = osp.join(REPO_ROOT, 'configs', '_base_', 'models', 'rpcanet.py')
    saved = tmp_path / 'merged.py'
    cfg = print_config.main([
        config, '--cfg-options', 'model.channels_last=False',
        'model.backbone.num_stages=3', '--save-path',
        str(saved)
    ])
    out = capsys.readouterr().out
    assert 'channels_last=False' in out and 'num_stages=3' in out
    reloaded = Config.fromfile(str(saved))
    assert reloaded.model.backbone.num_stages == 3
    assert cfg.model.channels_last is False


def test_fused_conv_bn_model_gives_the_same_outputs(tiny_config):
    from mmcv.cnn import fuse_conv_bn
    from torch import nn
    model_cfg = Config.fromfile(tiny_config).model.to_dict()
    model = build_benchmark_model(model_cfg).eval()
    # non-trivial running statistics, so folding them changes the weights
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    inputs = torch.rand(2, 1, 24, 24)
    with torch.no_grad():
        expected = model(inputs, mode='tensor')
        fused = fuse_conv_bn(model)
        assert not any(
            isinstance(m, nn.BatchNorm2d) for m in fused.modules())
        torch.testing.assert_close(
            fused(inputs, mode='tensor'), expected, rtol=1e-4, atol=1e-4)

    report = benchmark_config(
        model_cfg, shape=(16, 16), modes=('infer', ), warmup=0, repeat=1,
        matmul_size=64, isolate=False, fuse_conv_bn=True)
    assert report['fuse_conv_bn'] is True


# ------------------------------------------------------ NUN iterate fidelity
@pytest.fixture
def untrained_nun(tmp_path):
    """A tiny NUN config and a checkpoint of it as built: every DeRUN
    iteration starts as the identity (zero-initialised residual layers)."""
    from ..conftest import format_tiny_config
    from .test_nun_end_to_end import TINY_NUN
    config = str(tmp_path / 'tiny_nun.py')
    with open(config, 'w') as f:
        f.write(format_tiny_config(TINY_NUN))
    torch.manual_seed(0)
    model = build_from_config(config)
    checkpoint = str(tmp_path / 'untrained.pth')
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    return config, checkpoint, model


@pytest.mark.slow
def test_iterate_fidelity_of_an_identity_derun(untrained_nun, tmp_path):
    config, checkpoint, _ = untrained_nun
    tool = load_tool('nun_iterate_fidelity', 'experiments')
    out = str(tmp_path / 'fidelity.json')
    results = tool.main([config, checkpoint, '--num-images', '2', '--out',
                         out])
    assert set(results) == {'SyntheticCOD', 'SyntheticCOD-haze-medium'}
    # two stages of two iterations each (TINY_NUN), plus the selection
    keys = {'input'} | {f'stage{k}/X_{k},{n}' for k in (1, 2)
                        for n in (1, 2)} | {'stage1/selected',
                                            'stage2/selected'}
    # exact copies of the clean image (120 dB) are counted apart
    copies = {f'stage{k}/selected/exact_copies' for k in (1, 2)}
    assert set(results['SyntheticCOD']) == keys | copies
    assert set(results['SyntheticCOD-haze-medium']) == keys
    # the identity leaves a clean image unchanged (the 120 dB MSE floor),
    # and a hazy one as hazy
    clean = results['SyntheticCOD']
    assert all(clean[k] >= 119.9 for k in keys)
    assert clean['stage2/selected/exact_copies'] == 1.0
    haze = results['SyntheticCOD-haze-medium']
    assert 5 < haze['input'] < 30
    for key, value in haze.items():
        assert value == pytest.approx(haze['input'], abs=1e-3), key
    with open(out) as f:
        written = json.load(f)
    assert written['SyntheticCOD']['stage1/selected'] >= 119.9
    assert written['SyntheticCOD-haze-medium']['input'] == pytest.approx(
        haze['input'])


@pytest.mark.slow
def test_iterate_fidelity_drop_cues_removes_x2(untrained_nun, tmp_path):
    config, _, model = untrained_nun
    # X2 now adds a constant to every iterate
    for name, module in model.named_modules():
        if name.endswith('.x2'):
            nn.init.constant_(module[-1].bias, 0.05)
    checkpoint = str(tmp_path / 'with_cues.pth')
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    tool = load_tool('nun_iterate_fidelity', 'experiments')
    with_cues = tool.main([config, checkpoint, '--num-images', '2'])
    clean = with_cues['SyntheticCOD']
    assert 15 < clean['stage1/X_1,1'] < 40  # moved off the identity
    dropped = tool.main(
        [config, checkpoint, '--num-images', '2', '--drop-cues'])
    assert dropped['SyntheticCOD']['stage1/X_1,1'] >= 119.9


def test_fidelity_summary_counts_exact_copies_apart():
    tool = load_tool('nun_iterate_fidelity', 'experiments')
    figures = tool.summarise({
        'input': [120.0, 120.0, 120.0, 120.0],
        'stage1/X_1,1': [20.0, 22.0, 24.0, 26.0],
        'stage1/selected': [120.0, 22.0, 120.0, 26.0],
        'stage2/selected': [20.0, 22.0, 24.0, 26.0],
    })
    assert figures['stage1/selected'] == pytest.approx(72.0)
    assert figures['stage1/selected/exact_copies'] == 0.5
    assert figures['stage1/selected/others'] == pytest.approx(24.0)
    # only selections are split, and only when they hold copies
    assert 'input/exact_copies' not in figures
    assert 'stage2/selected/exact_copies' not in figures
    assert figures['stage2/selected'] == pytest.approx(23.0)


def test_colour_fit_removes_gain_and_offset_only():
    tool = load_tool('nun_iterate_fidelity', 'experiments')
    torch.manual_seed(0)
    clean = torch.rand(2, 3, 16, 16) * 0.8 + 0.1
    recoloured = clean * torch.tensor([0.7, 1.0, 1.05]).view(1, 3, 1, 1) \
        + torch.tensor([0.05, -0.02, -0.04]).view(1, 3, 1, 1)
    torch.testing.assert_close(tool.colour_fit(recoloured, clean), clean)
    # detail lost stays lost: a blurred image is not given its edges back
    blurred = torch.nn.functional.avg_pool2d(clean, 3, 1, 1,
                                             count_include_pad=False)
    assert tool.image_psnr(tool.colour_fit(blurred, clean), clean).max() \
        < 30
    # a flat channel keeps the clean mean
    flat = tool.colour_fit(torch.full_like(clean, 0.3), clean)
    torch.testing.assert_close(flat, clean.mean((2, 3), keepdim=True)
                               .expand_as(clean))


@pytest.mark.slow
def test_iterate_fidelity_colour_fit_discounts_a_colour_shift(
        untrained_nun, tmp_path):
    config, _, model = untrained_nun
    for name, module in model.named_modules():
        if name.endswith('.x2'):
            nn.init.constant_(module[-1].bias, -0.05)
    checkpoint = str(tmp_path / 'shifted.pth')
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    tool = load_tool('nun_iterate_fidelity', 'experiments')
    plain = tool.main([config, checkpoint, '--num-images', '2'])
    fitted = tool.main(
        [config, checkpoint, '--num-images', '2', '--colour-fit'])
    assert plain['SyntheticCOD']['stage1/X_1,1'] < 40
    assert fitted['SyntheticCOD']['stage1/X_1,1'] > 60
    # the hazy input is a colour change too, largely undone by the fit
    haze = fitted['SyntheticCOD-haze-medium']
    assert haze['input'] > plain['SyntheticCOD-haze-medium']['input'] + 3


def test_iterate_fidelity_needs_a_nun(tiny_config):
    tool = load_tool('nun_iterate_fidelity', 'experiments')
    with pytest.raises(TypeError, match='NUNSegmentor'):
        tool.main([tiny_config, 'unused.pth'])
