import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

from dunseg.engine.checkpoint import (
    atomic_torch_save,
    decode_checkpoint,
    encode_checkpoint,
    load_weights_only,
)


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


# --------------------------------------------------------- strict loading
from dunseg.engine.checkpoint import (  # noqa: E402
    CheckpointMismatchError,
    atomic_write_text,
    check_state_dict_matches,
    find_resumable_checkpoint,
    load_model_weights,
    periodic_checkpoints,
    remove_stale_temp_files,
)


def _net(width=4):
    return torch.nn.Sequential(torch.nn.Conv2d(1, width, 3),
                               torch.nn.Conv2d(width, 1, 1))


def test_mismatched_checkpoint_is_an_error_listing_keys():
    model = _net()
    state = _net(width=8).state_dict()
    state['extra.weight'] = torch.zeros(1)
    del state['1.bias']
    with pytest.raises(CheckpointMismatchError) as info:
        check_state_dict_matches(model, state, 'other.pth')
    message = str(info.value)
    assert 'other.pth' in message
    assert "1 missing in the checkpoint: 1.bias" in message
    assert '1 unexpected: extra.weight' in message
    assert '0.weight: checkpoint (8, 1, 3, 3) vs model (4, 1, 3, 3)' in message
    assert 'load_strict=False' in message
    # an official (meta-less) checkpoint points to the converters
    assert 'rpcanet2dunseg.py' in message
    with pytest.raises(CheckpointMismatchError, match='experiment exp-a'):
        check_state_dict_matches(model, state, 'x.pth',
                                 dict(meta=dict(experiment_name='exp-a')))
    # the saved config names the model, although a hook's and a nested
    # module's type come first in its text
    saved_cfg = ("custom_hooks = [dict(clean_iters=5, type='CleanWarmupHook')]"
                 "\nmodel = dict(encoder=dict(type='ResNetEncoder'), "
                 "type='NUNSegmentor')\n")
    with pytest.raises(CheckpointMismatchError,
                       match="model type 'NUNSegmentor'"):
        check_state_dict_matches(model, state, 'x.pth',
                                 dict(meta=dict(cfg=saved_cfg)))
    with pytest.raises(CheckpointMismatchError) as info:
        check_state_dict_matches(model, state, 'x.pth',
                                 dict(meta=dict(cfg='model = dict(')))
    assert 'model type' not in str(info.value)


def test_strict_load_copies_nothing_and_partial_load_is_explicit():
    model, other = _net(), _net()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    partial = {k: v for k, v in other.state_dict().items() if k != '1.bias'}
    with pytest.raises(CheckpointMismatchError):
        load_model_weights(model, dict(state_dict=partial), 'p.pth')
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key])  # nothing copied
    load_model_weights(model, dict(state_dict=partial), 'p.pth', strict=False)
    assert torch.equal(model[0].weight, other[0].weight)
    # DDP's module. prefix is stripped before the check
    ddp = {f'module.{k}': v for k, v in other.state_dict().items()}
    load_model_weights(_net(), dict(state_dict=ddp), 'ddp.pth')


def test_keep_built_weights_loads_all_but_the_named_submodules():
    """A trained model tested with another selector's weight file: the
    selector keeps what it was built with, everything else is loaded
    strictly, even where the old selector's shapes would fit."""

    def build(seed):
        torch.manual_seed(seed)
        return torch.nn.ModuleDict(
            dict(body=torch.nn.Linear(3, 3),
                 selector=torch.nn.Sequential(torch.nn.Linear(4, 2),
                                              torch.nn.Linear(2, 1))))

    trained, fresh = build(0), build(1)
    state = {f'module.{k}': v for k, v in trained.state_dict().items()}
    selector_before = {k: v.clone()
                       for k, v in fresh.selector.state_dict().items()}
    load_model_weights(fresh, dict(state_dict=state), 'nun.pth',
                       keep_built=('selector', ))
    assert torch.equal(fresh.body.weight, trained.body.weight)
    for key, value in fresh.selector.state_dict().items():
        assert torch.equal(value, selector_before[key]), key
    # a checkpoint without the selector loads strictly too
    no_selector = {k: v for k, v in trained.state_dict().items()
                   if not k.startswith('selector.')}
    load_model_weights(build(2), dict(state_dict=no_selector), 'n.pth',
                       keep_built=['selector'])
    # the rest is still checked
    del no_selector['body.bias']
    with pytest.raises(CheckpointMismatchError, match='body.bias'):
        load_model_weights(build(2), dict(state_dict=no_selector), 'n.pth',
                           keep_built=['selector'])
    # a weightless selector in place of the checkpoint's learned one
    weightless = torch.nn.ModuleDict(dict(body=torch.nn.Linear(3, 3),
                                          selector=torch.nn.Identity()))
    load_model_weights(weightless, dict(state_dict=state), 'nun.pth',
                       keep_built=['selector'])
    assert torch.equal(weightless.body.weight, trained.body.weight)
    with pytest.raises(KeyError, match="'selectr'"):
        load_model_weights(build(2), dict(state_dict=state), 'n.pth',
                           keep_built=['selectr'])


# ------------------------------------------------ resumable checkpoints
def _training_checkpoint(path, value=1.0):
    torch.save(dict(state_dict={'w': torch.full((2, ), value)},
                    meta=dict(iter=1)), path)


def test_resume_falls_back_to_newest_loadable_checkpoint(tmp_path):
    work = str(tmp_path)
    _training_checkpoint(tmp_path / 'iter_2.pth')
    _training_checkpoint(tmp_path / 'iter_10.pth')
    (tmp_path / 'iter_12.pth').write_bytes(b'PK\x03\x04 truncated')
    assert [os.path.basename(p) for p in periodic_checkpoints(work)] == [
        'iter_12.pth', 'iter_10.pth', 'iter_2.pth']
    # a valid pointer wins
    atomic_write_text(str(tmp_path / 'iter_2.pth'),
                      str(tmp_path / 'last_checkpoint'))
    assert find_resumable_checkpoint(work) == str(tmp_path / 'iter_2.pth')
    # empty, dangling and truncated-target pointers fall back, saying so
    for target in ('', str(tmp_path / 'iter_99.pth'),
                   str(tmp_path / 'iter_12.pth')):
        (tmp_path / 'last_checkpoint').write_text(target)
        with pytest.warns(UserWarning, match='iter_10.pth'):
            assert find_resumable_checkpoint(work).endswith('iter_10.pth')
    os.remove(tmp_path / 'last_checkpoint')
    with pytest.warns(UserWarning, match='last_checkpoint is missing'):
        assert find_resumable_checkpoint(work).endswith('iter_10.pth')
    empty = tmp_path / 'empty'
    empty.mkdir()
    assert find_resumable_checkpoint(str(empty)) is None


def test_stale_temp_files_of_dead_processes_are_removed(tmp_path):
    import subprocess
    import sys
    dead = subprocess.run(
        [sys.executable, '-c', 'import os; print(os.getpid())'],
        capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f'.iter_4.pth.tmp-{dead_pid}'
    live = tmp_path / f'.iter_6.pth.tmp-{os.getpid()}'
    keep = tmp_path / 'iter_2.pth'
    for path in (stale, live, keep):
        path.write_bytes(b'x')
    assert remove_stale_temp_files(str(tmp_path)) == [str(stale)]
    assert sorted(os.listdir(tmp_path)) == sorted([live.name, keep.name])
