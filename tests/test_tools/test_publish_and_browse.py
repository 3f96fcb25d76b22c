import os.path as osp
import subprocess
import sys

import cv2
import pytest
import torch
from mmengine.logging import HistoryBuffer

from ..conftest import REPO_ROOT, write_tiny_config

sys.path.insert(0, osp.join(REPO_ROOT, 'tools', 'misc'))
from publish_model import publish  # noqa: E402


def test_publish_strips_and_requires_trust_for_pickles(tmp_path):
    src = tmp_path / 'foreign.pth'
    torch.save(
        dict(state_dict={'w': torch.ones(3)},
             meta=dict(epoch=3, hub=HistoryBuffer([1.0], [1])),
             optimizer={'state': {}}), src)
    with pytest.raises(Exception, match='weights_only|Unsupported global'):
        publish(str(src), str(tmp_path / 'out.pth'))
    out = publish(str(src), str(tmp_path / 'out.pth'), trust=True)
    assert osp.basename(out).startswith('out-') and out.endswith('.pth')
    clean = torch.load(out, weights_only=True)
    assert set(clean) == {'state_dict', 'meta'}
    assert clean['meta'] == dict(epoch=3, published_from='foreign.pth')


@pytest.mark.slow
def test_browse_dataset_draws_samples(tmp_path):
    config = write_tiny_config(tmp_path)
    out = tmp_path / 'browse'
    subprocess.run([
        sys.executable, 'tools/misc/browse_dataset.py', config,
        '--output-dir', str(out), '--num', '3'
    ], cwd=REPO_ROOT, check=True, capture_output=True)
    files = sorted(out.glob('*.png'))
    assert len(files) == 3
    assert cv2.imread(str(files[0])).shape[:2] == (32, 64)  # input | GT
