import subprocess
import sys
import textwrap

import torch.distributed as dist

from dunseg.utils.dist_utils import (
    finish_distributed_run,
    shutdown_process_group,
)

from ..conftest import REPO_ROOT


def test_shutdown_is_a_no_op_without_a_process_group():
    assert not dist.is_initialized()
    assert shutdown_process_group() is False
    finish_distributed_run()  # returns: nothing distributed to finish
    assert not dist.is_initialized()


def test_shutdown_destroys_the_default_group(tmp_path):
    dist.init_process_group(
        'gloo', init_method=f'file://{tmp_path}/rendezvous', rank=0,
        world_size=1)
    assert dist.is_initialized()
    assert shutdown_process_group() is True
    assert not dist.is_initialized()


def test_distributed_rank_exits_cleanly_after_flushing(tmp_path):
    log_file = tmp_path / 'rank.log'
    script = textwrap.dedent(f'''
        import logging, sys
        import torch.distributed as dist
        from dunseg.utils.dist_utils import finish_distributed_run
        logging.basicConfig(filename={str(log_file)!r}, level=logging.INFO)
        dist.init_process_group('gloo',
                                init_method='file://{tmp_path}/rendezvous',
                                rank=0, world_size=1)
        logging.info('results written')
        print('stdout line', end='')
        finish_distributed_run()
        print('not reached')
        sys.exit(3)
    ''')
    proc = subprocess.run([sys.executable, '-c', script], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == 'stdout line'
    assert 'results written' in log_file.read_text()
