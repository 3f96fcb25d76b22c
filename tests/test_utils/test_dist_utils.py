import torch.distributed as dist

from dunseg.utils.dist_utils import shutdown_process_group


def test_shutdown_is_a_no_op_without_a_process_group():
    assert not dist.is_initialized()
    shutdown_process_group()
    assert not dist.is_initialized()


def test_shutdown_destroys_the_default_group(tmp_path):
    dist.init_process_group(
        'gloo', init_method=f'file://{tmp_path}/rendezvous', rank=0,
        world_size=1)
    assert dist.is_initialized()
    shutdown_process_group()
    assert not dist.is_initialized()
