"""Keep freed memory in the glibc heap during CPU training.

A 32-channel activation of a batch of 8 images at 256x256 is 64 MiB, above
glibc's largest mmap threshold (32 MiB). With the default allocator every
such tensor is a fresh ``mmap`` that the kernel page-faults in 4 KiB at a
time and unmaps on free; a train step of RPCANet then spends ~40 % of its
CPU time in the kernel (measurements in ``docs/benchmarks.md``). Setting
``M_MMAP_MAX = 0`` and a very large ``M_TRIM_THRESHOLD`` makes glibc reuse
heap memory instead, which halves the step time at the cost of a higher
peak resident size. It is the in-process equivalent of starting Python with
``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=<huge>``.
"""
import ctypes
import ctypes.util
import platform
from typing import Optional

# from <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
# large enough never to trim, small enough for a C int (mallopt takes int)
_NEVER_TRIM = 2**31 - 1

_applied: Optional[bool] = None


def keep_freed_memory_in_heap() -> bool:
    """Ask glibc not to mmap large blocks and not to trim the heap.

    Idempotent; returns whether the settings are in effect. Does nothing
    (returns ``False``) on non-Linux systems or C libraries other than
    glibc (e.g. musl), where ``mallopt`` is absent or means something else.
    """
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if platform.system() != 'Linux' or platform.libc_ver()[0] != 'glibc':
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success
    _applied = bool(mallopt(_M_MMAP_MAX, 0)) and bool(
        mallopt(_M_TRIM_THRESHOLD, _NEVER_TRIM))
    return _applied
