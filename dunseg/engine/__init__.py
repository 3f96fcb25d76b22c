from .amp import AMP_DTYPES, CPUAmpOptimWrapper, amp_optim_wrapper_cfg
from .checkpoint import (
                         CheckpointMismatchError,
                         NonFiniteWeightsError,
                         atomic_torch_save,
                         atomic_write_text,
                         check_finite_weights,
                         check_state_dict_matches,
                         decode_checkpoint,
                         encode_checkpoint,
                         find_resumable_checkpoint,
                         load_model_weights,
                         load_weights_only,
                         remove_stale_temp_files,
)
from .hooks import *  # noqa: F401,F403
from .log_processor import DunSegLogProcessor
from .runner import DunSegRunner, MissingCheckpointError, NonFiniteLossError
from .schedule import check_schedule_matches_loop

__all__ = [
    'AMP_DTYPES', 'CPUAmpOptimWrapper', 'amp_optim_wrapper_cfg',
    'DunSegRunner', 'MissingCheckpointError', 'NonFiniteLossError',
    'DunSegLogProcessor', 'atomic_torch_save',
    'encode_checkpoint', 'decode_checkpoint', 'load_weights_only',
    'CheckpointMismatchError', 'NonFiniteWeightsError', 'check_finite_weights',
    'atomic_write_text', 'check_state_dict_matches',
    'find_resumable_checkpoint', 'load_model_weights',
    'remove_stale_temp_files', 'check_schedule_matches_loop'
]
