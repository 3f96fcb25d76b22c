"""`make demo`: the NUN embedded pipeline (demo/embedded/nun.sh),
run end to end with tiny configs."""
import os
import os.path as osp
import subprocess

import pytest

from ..conftest import REPO_ROOT, format_tiny_config
from .test_nun_end_to_end import TINY_NUN

# end-to-end runs of the tools in subprocesses: the slow tier (make test-all)
pytestmark = pytest.mark.slow

TINY_DACLIP = """
_base_ = ['{root}/configs/daclip/'
          'daclip_tiny_6e_synthetic-degradation-64x64.py']
img_size = 32
{tiny_clip}
model = dict(prior=dict(clip_model=tiny_clip, input_size=img_size))
train_dataloader = dict(batch_size=6, num_workers=0, persistent_workers=False,
                        dataset=dict(num_samples=12, img_size=img_size))
val_dataloader = dict(batch_size=6, num_workers=0, persistent_workers=False,
                      dataset=dict(num_samples=6, img_size=img_size))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=1, val_interval=1)
default_hooks = dict(checkpoint=dict(interval=1))
"""


def test_make_demo_pipeline_trains_tests_and_draws(tmp_path):
    daclip, nun = tmp_path / 'daclip.py', tmp_path / 'nun.py'
    daclip.write_text(format_tiny_config(TINY_DACLIP))
    nun.write_text(format_tiny_config(TINY_NUN))
    work_dir = tmp_path / 'work'
    env = dict(os.environ, DACLIP_CONFIG=str(daclip), NUN_CONFIG=str(nun),
               OMP_NUM_THREADS='1', HF_HUB_OFFLINE='1',
               TRAIN_OPTIONS='train_cfg.max_iters=2')
    import sys
    proc = subprocess.run(
        ['bash', 'demo/embedded/nun.sh', sys.executable,
         str(work_dir)], cwd=REPO_ROOT, env=env, capture_output=True,
        text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = proc.stdout.split('dunseg embedded NUN demo')[-1]
    # one line per test set, the restorations against the degraded input,
    # and where everything is
    assert 'SyntheticCOD-haze-medium' in summary
    assert 'restorations of the degraded sets: PSNR' in summary
    for name in ('DA-CLIP prior:', 'NUN checkpoint:', 'demo picture:'):
        line = next(x for x in summary.splitlines() if x.startswith(name))
        assert osp.exists(line.split(':', 1)[1].strip()), line
    assert 'restoration chosen per stage' in proc.stdout
