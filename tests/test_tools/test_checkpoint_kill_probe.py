"""A short run of tools/experiments/checkpoint_kill_probe.py: real
SIGKILLs during a periodic and a best-checkpoint save (the full probe, 10+
kills per target, is in docs/benchmarks.md)."""
import importlib.util
import os.path as osp

import pytest

from ..conftest import REPO_ROOT

# end-to-end runs of the tools in subprocesses: the slow tier (make test-all)
pytestmark = pytest.mark.slow

spec = importlib.util.spec_from_file_location(
    'checkpoint_kill_probe',
    osp.join(REPO_ROOT, 'tools', 'experiments', 'checkpoint_kill_probe.py'))
probe = importlib.util.module_from_spec(spec)
spec.loader.exec_module(probe)


def test_sigkill_during_saves_leaves_a_resumable_work_dir(tmp_path):
    results = probe.run_probe(1, str(tmp_path), seed=1,
                              points=('before-remove', ), targets=('iter_', ))
    results += probe.run_probe(1, str(tmp_path / 'best'), seed=2,
                               points=('mid-write', ), targets=('best_', ))
    for result in results:
        assert result['killed'], result  # the kill switch fired
        assert result['resumable'] and result['best_loads'], result
        assert result['resume_ok'] and not result['temp_files_left'], result
