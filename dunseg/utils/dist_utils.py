"""Orderly end of a distributed run."""
import logging
import os
import sys

import torch.distributed as dist


def shutdown_process_group() -> bool:
    """Wait for every rank, then destroy the default process group.

    The barrier keeps the first rank to finish from tearing down the
    rendezvous while another is still exchanging results; destroying the
    group shuts down its communication threads. Returns whether a group
    was destroyed.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return False
    dist.barrier()
    dist.destroy_process_group()
    return True


def finish_distributed_run() -> None:
    """End a finished run; a distributed rank then exits at once.

    A rank that leaves through the normal interpreter teardown can abort
    with ``terminate called without an active exception`` (a C++ thread of
    the gloo/c10d stack still joinable while static objects are destroyed),
    which torchrun reports as a failed job although every rank had written
    its results; CI saw this on rank 1 of a 2-process test. After the
    barrier and the group's shutdown, a distributed rank therefore flushes
    its logs and streams and leaves with ``os._exit(0)``, skipping that
    teardown. Single-process runs return normally.
    """
    if not shutdown_process_group():
        return
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
