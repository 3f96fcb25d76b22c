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


def test_medical_inference_does_not_degrade_the_input_again(tmp_path):
    """The VL-DUN test pipeline undersamples clean phantoms; a file given
    for inference is already undersampled, so KSpaceUndersample is dropped
    and a medical slice loader put first."""
    import cv2

    from dunseg.apis.inference import _inference_pipeline

    from ..conftest import REPO_ROOT
    config = (f'{REPO_ROOT}/configs/vldun/'
              'vldun_tiny_0.6k_synthetic-phantom-64x64.py')
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    assert [t['type'] for t in cfg.test_dataloader.dataset.pipeline] == [
        'KSpaceUndersample', 'PackMedicalInputs']
    pipeline = _inference_pipeline(cfg, 1)
    assert [type(t).__name__ for t in pipeline.transforms] == [
        'LoadMedicalSliceFromFile', 'PackMedicalInputs']
    grey = np.random.default_rng(0).integers(0, 256, (16, 24), np.uint8)
    path = str(tmp_path / 'undersampled.png')
    cv2.imwrite(path, grey)
    data = pipeline(dict(img_path=path))
    np.testing.assert_array_equal(data['inputs'][0].numpy(),
                                  grey.astype(np.float32) / 255)
