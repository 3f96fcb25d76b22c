"""`make demo-vldun`: the tiny CLIP dual prior, VL-DUN-tiny with it and the
U-Net baseline (demo/embedded/vldun.sh), run end to end with tiny configs."""
import os
import os.path as osp
import subprocess
import sys

import pytest

from ..conftest import REPO_ROOT, format_tiny_config
from .test_vldun_end_to_end import TINY_VLDUN

# end-to-end runs of the tools in subprocesses: the slow tier (make test-all)
pytestmark = pytest.mark.slow

TINY_PRIOR = """
_base_ = ['{root}/configs/vldun/'
          'clip-dual-prior_tiny_0.5k_synthetic-phantom-64x64.py']
img_size = 32
{tiny_clip}
model = dict(
    prior=dict(clip_model=dict(tiny_clip, _delete_=True), input_size=32),
    backbone=dict(dim=8, num_blocks=(1, 1, 1, 1), num_refinement_blocks=1,
                  heads=(1, 1, 1, 1), prior_dim=16, tokens_per_prior=1,
                  mamba_cfg=dict(d_state=4, expand=1)),
    seg_head=dict(num_classes=4, channels=8))
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(num_samples=8, img_size=img_size))
train_cfg = dict(max_iters=2)
default_hooks = dict(checkpoint=dict(interval=2))
"""
TINY_UNET = """
_base_ = ['{root}/configs/unet/unet_tiny_0.6k_synthetic-phantom-64x64.py']
img_size = 32
model = dict(backbone=dict(base_channels=4), seg_head=dict(channels=8))
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(num_samples=8, img_size=img_size))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(num_samples=4, img_size=img_size))
test_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(num_samples=6, img_size=img_size))
param_scheduler = []
train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2)
default_hooks = dict(checkpoint=dict(interval=2, save_best=None))
"""


def test_make_demo_vldun_trains_tests_and_draws_a_dicom(tmp_path):
    configs = {}
    for name, template in (('PRIOR', TINY_PRIOR), ('VLDUN', TINY_VLDUN),
                           ('UNET', TINY_UNET)):
        configs[name + '_CONFIG'] = str(tmp_path / f'{name.lower()}.py')
        with open(configs[name + '_CONFIG'], 'w') as f:
            f.write(format_tiny_config(template))
    work_dir = tmp_path / 'work'
    from pydicom.data import get_testdata_file
    env = dict(os.environ, OMP_NUM_THREADS='1', HF_HUB_OFFLINE='1',
               TRAIN_OPTIONS='train_cfg.max_iters=2',
               DEMO_IMAGE=get_testdata_file('CT_small.dcm'), **configs)
    proc = subprocess.run(
        ['bash', 'demo/embedded/vldun.sh', sys.executable, str(work_dir)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = proc.stdout.split('dunseg embedded VL-DUN demo')[-1]
    lines = summary.splitlines()
    rows = {line[:22].strip(): line[22:].split() for line in lines
            if line[:22].strip() in ('zero-filled input', 'VL-DUN-tiny',
                                     'U-Net (same size)')}
    assert len(rows) == 3
    # PSNR x3, SSIM x3, Dice: the input has no Dice, the U-Net no image
    assert rows['zero-filled input'][-1] == '-'
    assert '-' not in rows['VL-DUN-tiny']
    assert rows['U-Net (same size)'][:6] == ['-'] * 6
    assert float(rows['U-Net (same size)'][-1]) >= 0
    for name in ('dual prior:', 'VL-DUN checkpoint:', 'U-Net checkpoint:',
                 'VL-DUN metrics:', 'U-Net metrics:'):
        line = next(x for x in lines if x.startswith(name))
        assert osp.exists(line.split(':', 1)[1].strip()), line
    demo = next(x for x in lines if x.startswith('demo picture:'))
    assert 'CT_small.dcm' in demo
    assert osp.exists(demo.split(':', 1)[1].split('(')[0].strip())
    assert 'recognised modality' in proc.stdout
