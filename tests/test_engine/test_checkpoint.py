import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

from dunseg.engine.checkpoint import (atomic_torch_save, decode_checkpoint,
                                      encode_checkpoint, load_weights_only)


def test_message_hub_roundtrip_is_weights_only_safe(tmp_path):
    hub = MessageHub.get_instance('ckpt-roundtrip')
    for i in range(5):
        hub.update_scalar('train/loss', 1.0 / (i + 1))
    hub.update_info('best_score', np.float64(0.75), resumed=True)
    hub.update_info('arr', np.arange(3), resumed=True)
    state = hub.state_dict()

    path = tmp_path / 'ckpt.pth'
    torch.save(dict(message_hub=encode_checkpoint(state)), path)
    loaded = torch.load(path, weights_only=True)  # must not raise
    decoded = decode_checkpoint(loaded['message_hub'])

    buffer = decoded['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    np.testing.assert_allclose(buffer.data[0],
                               state['log_scalars']['train/loss'].data[0])
    assert decoded['runtime_info']['best_score'] == 0.75
    np.testing.assert_array_equal(decoded['runtime_info']['arr'], np.arange(3))

    restored = MessageHub.get_instance('ckpt-roundtrip-restored')
    restored.load_state_dict(decoded)
    assert restored.get_scalar('train/loss').current() == pytest.approx(0.2)


def test_unsafe_checkpoint_is_refused_with_instructions(tmp_path):
    path = tmp_path / 'legacy.pth'
    torch.save(dict(buffer=HistoryBuffer([1.0], [1])), path)
    with pytest.raises(RuntimeError, match='publish_model.py --trust'):
        load_weights_only(str(path))
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        load_weights_only(str(tmp_path / 'missing.pth'))


class _Exploding:

    def __reduce__(self):
        raise pickle.PicklingError('simulated crash while writing')


def test_atomic_save_keeps_previous_file(tmp_path):
    path = tmp_path / 'latest.pth'
    atomic_torch_save({'w': torch.ones(2)}, str(path))
    with pytest.raises(pickle.PicklingError):
        atomic_torch_save({'w': torch.zeros(2), 'bad': _Exploding()},
                          str(path))
    assert torch.load(path, weights_only=True)['w'].sum() == 2
    assert os.listdir(tmp_path) == ['latest.pth']  # no temp file left
