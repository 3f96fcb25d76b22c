import platform
import subprocess
import sys

import pytest

GLIBC = platform.system() == 'Linux' and platform.libc_ver()[0] == 'glibc'

# A fresh interpreter: mallopt settings are process-wide and sticky.
PROBE = r"""
import ctypes, resource
from dunseg.utils.malloc import keep_freed_memory_in_heap
if {apply}:
    assert keep_freed_memory_in_heap()
    assert keep_freed_memory_in_heap()  # idempotent
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    buffer = ctypes.create_string_buffer(64 << 20)  # zero-filled: touched
    del buffer
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _minor_faults(apply: bool) -> int:
    out = subprocess.run(
        [sys.executable, '-c', PROBE.format(apply=apply)],
        capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


@pytest.mark.slow
@pytest.mark.skipif(not GLIBC, reason='mallopt tuning is glibc-specific')
def test_keep_heap_reuses_large_blocks_instead_of_faulting_them_in():
    # 20 x 64 MiB = 327,680 pages when every block is a fresh mmap
    default = _minor_faults(False)
    kept = _minor_faults(True)
    assert default > 200_000
    assert kept < default / 5, (default, kept)


def test_runner_applies_keep_heap_from_env_cfg(tiny_config, tmp_path,
                                               monkeypatch):
    from mmengine.config import Config

    import dunseg.utils.malloc as malloc
    from dunseg.engine.runner import DunSegRunner
    calls = []
    monkeypatch.setattr(malloc, 'keep_freed_memory_in_heap',
                        lambda: calls.append(True) or True)
    for flag, expected in ((False, 0), (True, 1)):
        cfg = Config.fromfile(tiny_config)
        cfg.work_dir = str(tmp_path / f'flag_{flag}')
        cfg.env_cfg.malloc_keep_heap = flag
        calls.clear()
        DunSegRunner.from_cfg(cfg)
        assert len(calls) == expected
