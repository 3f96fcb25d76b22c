"""The worked example of docs/add_component.md: a user stage via
custom_imports."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

from ..conftest import REPO_ROOT, write_tiny_config

# end-to-end runs of the tools in subprocesses: the slow tier (make test-all)
pytestmark = pytest.mark.slow

EXAMPLES = osp.join(REPO_ROOT, 'docs', 'examples')


def test_user_stage_loaded_through_custom_imports_trains(tmp_path):
    base = write_tiny_config(tmp_path, max_iters=3, val_interval=3,
                             ckpt_interval=3)
    config = tmp_path / 'user_stage.py'
    with open(osp.join(EXAMPLES, 'soft_threshold_synthetic-sirst.py')) as f:
        text = f.read()
    # same example, on the tiny base schedule
    text = text.replace(
        "'../../configs/rpcanet/rpcanet-plus_k6b4_0.5k_synthetic-sirst-128x128.py'",
        repr(base))
    config.write_text(text)
    env = dict(os.environ, PYTHONPATH=f'{REPO_ROOT}{os.pathsep}{EXAMPLES}',
               OMP_NUM_THREADS='1')
    work_dir = str(tmp_path / 'work')
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', str(config), '--work-dir',
         work_dir], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
        timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    dumped = glob.glob(osp.join(work_dir, 'user_stage.py'))[0]
    assert 'SoftThresholdRPCAStage' in open(dumped).read()

    import torch
    ckpt = torch.load(osp.join(work_dir, 'iter_3.pth'), weights_only=True)
    keys = set(ckpt['state_dict'])
    assert 'backbone.stages.2.threshold' in keys
    assert 'backbone.stages.0.background_filter.weight' in keys
    scalars = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    losses = [json.loads(line)['loss'] for line in open(scalars[0])
              if '"loss"' in line]
    # finite, no NaN
    assert len(losses) == 3 and all(loss == loss for loss in losses)
