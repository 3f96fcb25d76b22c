import numpy as np
import pytest
import torch

from dunseg.apis import inference_model, init_model
from dunseg.engine import CheckpointMismatchError

from ..conftest import write_tiny_config


@pytest.fixture(scope='module')
def model(tmp_path_factory):
    return init_model(write_tiny_config(tmp_path_factory.mktemp('cfg')))


def test_non_finite_input_array_is_rejected(model):
    image = np.full((32, 32), 0.5, np.float32)
    image[0, 0] = np.nan
    with pytest.raises(ValueError, match='NaN'):
        inference_model(model, image)


def test_non_finite_output_is_reported_not_returned(model):
    image = np.full((32, 32), 0.5, np.float32)
    assert torch.isfinite(inference_model(model, image).pred_score.data).all()
    broken = init_model(model.cfg)
    with torch.no_grad():
        next(broken.parameters()).fill_(float('inf'))
    with pytest.raises(FloatingPointError, match='pred_score'):
        inference_model(broken, image)


def test_init_model_is_strict_unless_told(model, tmp_path):
    path = str(tmp_path / 'partial.pth')
    state = model.state_dict()
    first = next(iter(state))
    torch.save(dict(state_dict={k: v for k, v in state.items()
                                if k != first}), path)
    with pytest.raises(CheckpointMismatchError, match=first):
        init_model(model.cfg, path)
    init_model(model.cfg, path, strict=False)
