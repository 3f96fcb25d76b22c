"""Mixed precision: ``tools/train.py --amp`` and a bfloat16 step per family.

On a CPU, ``--amp`` trains under a bfloat16 autocast
(:class:`~dunseg.engine.CPUAmpOptimWrapper`); on an accelerator under
MMEngine's ``AmpOptimWrapper``. The losses compute in float32 under
autocast (``float32_loss``) and the selective scan casts its inputs to
float32 itself.
"""
import copy
import importlib.util
import math
import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config

from dunseg.engine import CPUAmpOptimWrapper, amp_optim_wrapper_cfg
from dunseg.models.losses import StructureLoss
from dunseg.utils import register_all_modules

from ..conftest import REPO_ROOT, write_tiny_config
from .family_steps import (
    FAMILY_CONFIGS,
    build_family_batch,
    build_family_model,
    build_family_optim_wrapper,
)

#: |bf16 - fp32| / |fp32| of the first step's total loss. bfloat16 keeps 8
#: mantissa bits (a relative rounding of 2^-9 = 0.2 % per value); measured
#: at most 0.45 % over the seven families (CLIP dual prior, DA-CLIP), so 1 %
#: leaves room for other seeds without hiding a loss computed in bfloat16
#: from the wrong place (a sum of many bfloat16 roundings).
LOSS_RTOL = 1e-2


def _one_step(model, state, batch, family, **wrapper_overrides):
    model.load_state_dict(state)
    optim_wrapper = build_family_optim_wrapper(family, model,
                                               **wrapper_overrides)
    log_vars = model.train_step(copy.deepcopy(batch), optim_wrapper)
    return optim_wrapper, log_vars


SLOW_FAMILIES = ('nun', 'vldun', 'vlunet')


@pytest.mark.parametrize('family', [
    pytest.param(name,
                 marks=[pytest.mark.slow] if name in SLOW_FAMILIES else [])
    for name in FAMILY_CONFIGS
])
def test_bf16_step_is_finite_and_close_to_fp32(family):
    model = build_family_model(family)
    state = copy.deepcopy(model.state_dict())
    batch = build_family_batch(family)
    _, fp32 = _one_step(model, state, batch, family)
    wrapper, bf16 = _one_step(model, state, batch, family,
                              type='CPUAmpOptimWrapper')
    assert isinstance(wrapper, CPUAmpOptimWrapper)
    loss_fp32, loss_bf16 = float(fp32['loss']), float(bf16['loss'])
    assert math.isfinite(loss_bf16)
    assert loss_bf16 == pytest.approx(loss_fp32, rel=LOSS_RTOL), (
        f'{family}: bf16 loss {loss_bf16} against fp32 {loss_fp32}')
    # the step reached the weights, which stay float32 and finite
    for name, param in model.named_parameters():
        assert param.dtype == torch.float32, name
        assert torch.isfinite(param).all(), name
    moved = [not torch.equal(param, state[name])
             for name, param in model.named_parameters()
             if param.requires_grad]
    assert any(moved)


def test_forward_runs_in_bf16_and_losses_in_fp32():
    register_all_modules()
    conv = torch.nn.Conv2d(1, 1, 3, padding=1)
    wrapper = CPUAmpOptimWrapper(
        optimizer=torch.optim.SGD(conv.parameters(), lr=0.1))
    x = torch.rand(1, 1, 8, 8)
    target = (torch.rand(1, 1, 8, 8) > 0.5).float()
    with wrapper.optim_context(conv):
        logits = conv(x)
        loss = StructureLoss()(logits, target)
    assert logits.dtype == torch.bfloat16
    assert loss.dtype == torch.float32
    # the loss is the float32 loss of the bfloat16 logits, to the last bit
    assert torch.equal(loss, StructureLoss()(logits.float(), target))


def test_selective_scan_under_autocast_computes_in_fp32():
    # float32 inside whatever the autocast: the same bits as without it
    scan_module = importlib.import_module(
        'dunseg.models.layers.selective_scan')
    torch.manual_seed(0)
    u, delta, z = (torch.randn(1, 4, 16).bfloat16() for _ in range(3))
    A = -torch.rand(4, 2) - 0.5
    B, C = (torch.randn(1, 2, 16).bfloat16() for _ in range(2))
    args = (u, delta, A, B, C, torch.randn(4), z, torch.zeros(4), True)
    plain = scan_module.selective_scan(*args, backend='torch')
    with torch.autocast('cpu', dtype=torch.bfloat16):
        cast = scan_module.selective_scan(*args, backend='torch')
    assert cast.dtype == torch.bfloat16
    assert torch.equal(cast, plain)


# --------------------------------------------------------------------- #
# choosing the wrapper
def test_amp_picks_the_wrapper_for_the_device(monkeypatch):
    base = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3),
                clip_grad=dict(max_norm=1.0))
    cpu = amp_optim_wrapper_cfg(base, 'auto', device='cpu')
    assert cpu.type == 'CPUAmpOptimWrapper' and cpu.dtype == 'bfloat16'
    assert cpu.optimizer == base['optimizer']
    assert cpu.clip_grad == base['clip_grad']
    assert 'loss_scale' not in cpu
    assert amp_optim_wrapper_cfg(base, 'bfloat16', device='cpu') == cpu
    cuda = amp_optim_wrapper_cfg(base, 'auto', device='cuda')
    assert cuda.type == 'AmpOptimWrapper'
    assert cuda.loss_scale == 'dynamic' and 'dtype' not in cuda
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda: True)
    assert amp_optim_wrapper_cfg(base, 'bfloat16',
                                 device='cuda').dtype == 'bfloat16'
    # an AMP config moved to a CPU loses its loss scale
    assert 'loss_scale' not in amp_optim_wrapper_cfg(cuda, device='cpu')


def test_amp_failure_paths_name_the_fix(monkeypatch):
    base = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1))
    with pytest.raises(ValueError, match='--amp float16 needs a CUDA '
                       'device.*--amp bfloat16'):
        amp_optim_wrapper_cfg(base, 'float16', device='cpu')
    with pytest.raises(ValueError, match="'OptimWrapperDict'.*without "
                       '--amp'):
        amp_optim_wrapper_cfg(dict(base, type='OptimWrapperDict'),
                              device='cpu')
    with pytest.raises(ValueError, match="dtype must be one of"):
        amp_optim_wrapper_cfg(base, 'float64', device='cpu')
    with pytest.raises(ValueError, match='no optim_wrapper'):
        amp_optim_wrapper_cfg(None, device='cpu')
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda: False)
    with pytest.raises(ValueError, match='use --amp float16'):
        amp_optim_wrapper_cfg(base, 'bfloat16', device='cuda')
    params = [torch.nn.Parameter(torch.ones(1))]
    with pytest.raises(ValueError, match="set dtype='bfloat16'"):
        CPUAmpOptimWrapper(dtype='float16',
                           optimizer=torch.optim.SGD(params, lr=0.1))
    on_meta = torch.nn.Linear(1, 1, device='meta')
    wrapper = CPUAmpOptimWrapper(
        optimizer=torch.optim.SGD(on_meta.parameters(), lr=0.1))
    with pytest.raises(RuntimeError, match='model is on meta; use '
                       'AmpOptimWrapper'):
        with wrapper.optim_context(on_meta):
            pass


def _train_tool():
    spec = importlib.util.spec_from_file_location(
        'dunseg_train_tool', osp.join(REPO_ROOT, 'tools', 'train.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_tool_amp_float16_on_cpu_exits_with_the_fix(tmp_path,
                                                         monkeypatch):
    config = write_tiny_config(tmp_path, max_iters=1)
    monkeypatch.setattr('mmengine.device.get_device', lambda: 'cpu')
    monkeypatch.setattr(sys, 'argv', [
        'train.py', config, '--work-dir', str(tmp_path / 'work'), '--amp',
        'float16'
    ])
    with pytest.raises(SystemExit, match=r'tiny_rpcanet_plus\.py: --amp '
                       'float16 needs a CUDA device'):
        _train_tool().main()


@pytest.mark.skipif(torch.cuda.is_available(),
                    reason='checks the CPU choice of --amp')
def test_train_tool_amp_trains_one_iteration_in_bf16_on_cpu(tmp_path,
                                                            monkeypatch):
    config = write_tiny_config(tmp_path, max_iters=1, val_interval=1,
                               ckpt_interval=1)
    work_dir = tmp_path / 'work'
    dtypes = []
    from mmengine.runner import Runner

    # record the dtype of the first convolution's output in the run
    build_model = Runner.build_model

    def build_and_probe(runner, model_cfg):
        model = build_model(runner, model_cfg)
        conv = next(m for m in model.modules()
                    if isinstance(m, torch.nn.Conv2d))
        conv.register_forward_hook(
            lambda module, args, out: dtypes.append(out.dtype)
            if module.training else None)
        return model

    monkeypatch.setattr(Runner, 'build_model', build_and_probe)
    monkeypatch.setattr(sys, 'argv', [
        'train.py', config, '--work-dir', str(work_dir), '--amp'
    ])
    _train_tool().main()
    dumped = Config.fromfile(str(work_dir / 'tiny_rpcanet_plus.py'))
    assert dumped.optim_wrapper.type == 'CPUAmpOptimWrapper'
    assert dumped.optim_wrapper.dtype == 'bfloat16'
    assert dtypes and set(dtypes) == {torch.bfloat16}
    assert (work_dir / 'iter_1.pth').exists()
