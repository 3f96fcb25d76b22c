"""Build a model from a config and run it on images (demo, notebooks, tests)."""
from pathlib import Path
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

from dunseg.engine.checkpoint import load_model_weights, load_weights_only
from dunseg.registry import MODELS
from dunseg.structures import DunSegDataSample
from dunseg.utils.finite import check_finite_image, non_finite_predictions

ImageType = Union[str, np.ndarray]

# Test-pipeline transforms that need ground truth, skipped for inference.
_NEEDS_GROUND_TRUTH = ('Annotation', 'Paired', 'Degrade')


def init_model(config: Union[str, Path, Config],
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None,
               strict: bool = True) -> torch.nn.Module:
    """Build a model from a config file and load a checkpoint.

    Checkpoints are loaded with ``weights_only=True`` and, by default,
    strictly: a checkpoint of another model (missing, unexpected or
    mis-shaped keys) is a
    :class:`~dunseg.engine.checkpoint.CheckpointMismatchError`.

    Args:
        config: Config file path or object.
        checkpoint (str, optional): Checkpoint path; None = random init.
        device (str): 'cpu', 'cuda', 'cuda:1' ...
        cfg_options (dict, optional): Overrides merged into the config.
        strict (bool): False loads the keys that match and ignores the
            rest (a deliberate partial load).
    """
    if isinstance(config, (str, Path)):
        config = Config.fromfile(str(config))
    elif not isinstance(config, Config):
        raise TypeError('config must be a filename or Config object, got '
                        f'{type(config).__name__}')
    if cfg_options is not None:
        config.merge_from_dict(cfg_options)
    init_default_scope(config.get('default_scope', 'dunseg'))
    model = MODELS.build(config.model)
    if checkpoint is None:
        model.init_weights()
    else:
        ckpt = load_weights_only(checkpoint, map_location='cpu')
        load_model_weights(model, ckpt, checkpoint, strict=strict)
        meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
        if 'dataset_meta' in meta:
            model.dataset_meta = meta['dataset_meta']
    model.cfg = config
    model.to(device)
    model.eval()
    return model


def _test_pipeline(cfg: Config) -> list:
    """The test set's pipeline; wrapped datasets (``ConcatDataset`` of
    several test sets, ``RepeatDataset`` ...) give their first member's."""
    dataset = cfg.test_dataloader.dataset
    while 'pipeline' not in dataset:
        if 'datasets' in dataset and dataset['datasets']:
            dataset = dataset['datasets'][0]
        elif 'dataset' in dataset:
            dataset = dataset['dataset']
        else:
            raise KeyError(
                'test_dataloader.dataset has no pipeline (nor a wrapped '
                'dataset with one); inference uses the test pipeline, so '
                'give the config a test_dataloader.dataset.pipeline')
    return dataset['pipeline']


def _inference_pipeline(cfg: Config, in_channels: Optional[int]) -> Compose:
    """The test pipeline without annotation loading, starting from a loader.

    Synthetic datasets generate images in the dataset and their pipelines
    have no loading step; inference from files needs one, so it is added
    with the colour type the model expects.
    """
    pipeline = [dict(t) for t in _test_pipeline(cfg)]
    # Inference has the input image only: no annotations, no clean image,
    # no synthetic degradation.
    pipeline = [
        t for t in pipeline if not any(
            word in t['type'] for word in _NEEDS_GROUND_TRUTH)
    ]
    if not pipeline or 'Load' not in pipeline[0]['type']:
        color_type = 'grayscale' if in_channels == 1 else 'color'
        pipeline.insert(
            0, dict(type='LoadISTDImageFromFile', color_type=color_type))
    return Compose(pipeline)


def _array_to_unit_range(image: np.ndarray) -> np.ndarray:
    """uint8 / uint16 / float array -> float32 (H, W, C) in [0, 1]."""
    image = np.asarray(image)
    if image.dtype == np.uint8 or image.dtype == np.uint16:
        image = image.astype(np.float32) / np.iinfo(image.dtype).max
    else:
        image = image.astype(np.float32)
        check_finite_image(image, 'the input array')
        if image.size and (image.min() < 0 or image.max() > 1):
            raise ValueError(
                'float images must lie in [0, 1], got range '
                f'[{image.min():.3g}, {image.max():.3g}]; pass uint8/uint16 '
                'arrays or rescale')
    return image[..., None] if image.ndim == 2 else image


@torch.no_grad()
def inference_model(model: torch.nn.Module,
                    images: Union[ImageType, Sequence[ImageType]],
                    return_stages: bool = False
                    ) -> Union[DunSegDataSample, List[DunSegDataSample]]:
    """Run a model on image file(s) or array(s) through its test pipeline.

    Args:
        model: A model from :func:`init_model` (``model.cfg`` is used).
        images: Path(s) or H x W (x C) array(s) (uint8, uint16 or float in
            [0, 1]).
        return_stages (bool): Also return every stage's state.

    Returns:
        The data sample(s) with the predictions (``pred_score`` /
        ``pred_mask`` for segmentation, ``pred_image`` and the recognised
        degradation for restoration) and, on request, ``stage_states``.
    """
    single = isinstance(images, (str, Path, np.ndarray))
    batch = [images] if single else list(images)
    cfg = model.cfg
    init_default_scope(cfg.get('default_scope', 'dunseg'))
    in_channels = getattr(model.data_preprocessor, 'in_channels', None)
    pipeline = _inference_pipeline(cfg, in_channels)
    results = []
    previous = getattr(model, 'return_stages', False)
    model.return_stages = return_stages
    try:
        for image in batch:
            if isinstance(image, np.ndarray):
                array = _array_to_unit_range(image)
                if in_channels == 1 and array.shape[2] == 3:
                    array = array.mean(axis=2, keepdims=True)
                # skip the loader: the array is already decoded
                data = dict(img=array, img_path=None,
                            img_shape=array.shape[:2],
                            ori_shape=array.shape[:2])
                for transform in pipeline.transforms[1:]:
                    data = transform(data)
            else:
                if not Path(image).is_file():
                    raise FileNotFoundError(
                        f'image file not found: {str(image)!r}; check the '
                        'path (relative paths start from the current '
                        f'directory, {Path.cwd()})')
                data = pipeline(dict(img_path=str(image)))
            sample = model.test_step(pseudo_collate([data]))[0]
            bad = non_finite_predictions(sample)
            if bad:
                source = image if isinstance(image, (str, Path)) else \
                    'the input array'
                raise FloatingPointError(
                    f'{type(model).__name__} produced NaN or infinite '
                    f'values in {", ".join(bad)} for {str(source)!r}, whose '
                    'pixels are finite: the weights are broken (a diverged '
                    'training run or a damaged checkpoint), so nothing is '
                    'drawn or reported from them')
            sample.input_image = PixelData(data=data['inputs'])
            results.append(sample)
    finally:
        model.return_stages = previous
    return results[0] if single else results
