"""`make demo-run`: RUN-tiny against the FPN encoder-decoder of its size
(demo/embedded/run.sh), run end to end with tiny configs."""
import os
import os.path as osp
import subprocess
import sys

import pytest

from ..conftest import REPO_ROOT, format_tiny_config
from .test_run_end_to_end import TINY_RUN

# end-to-end runs of the tools in subprocesses: the slow tier (make test-all)
pytestmark = pytest.mark.slow

TINY_FPN = """
_base_ = ['{root}/configs/sem_fpn/fpn_tiny_1.4k_synthetic-cod-64x64.py']
model = dict(encoder=dict(base_channels=8), backbone=dict(channels=16),
             uncertainty_loss=dict(ramp_iters=2))
{tiny_cod_data}
default_hooks = dict(checkpoint=dict(interval=2))
"""


def test_make_demo_run_trains_tests_and_compares(tmp_path):
    run_config, fpn_config = tmp_path / 'run.py', tmp_path / 'fpn.py'
    run_config.write_text(format_tiny_config(TINY_RUN))
    fpn_config.write_text(format_tiny_config(TINY_FPN))
    work_dir = tmp_path / 'work'
    env = dict(os.environ, RUN_CONFIG=str(run_config),
               FPN_CONFIG=str(fpn_config), OMP_NUM_THREADS='1',
               HF_HUB_OFFLINE='1', TRAIN_OPTIONS='train_cfg.max_iters=2')
    proc = subprocess.run(
        ['bash', 'demo/embedded/run.sh', sys.executable, str(work_dir)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = proc.stdout.split('dunseg embedded RUN demo')[-1]
    lines = summary.splitlines()
    # one row per test set, the clean split first, both models side by side
    rows = [x.split() for x in lines if x.startswith('SyntheticCOD')]
    assert [r[0] for r in rows] == ['SyntheticCOD', 'SyntheticCOD-haze-medium']
    assert all(len(r) == 5 for r in rows)
    for name in ('RUN checkpoint:', 'FPN checkpoint:', 'RUN metrics:',
                 'FPN metrics:', 'RUN demo picture:', 'FPN demo picture:'):
        line = next(x for x in lines if x.startswith(name))
        assert osp.exists(line.split(':', 1)[1].strip()), line
