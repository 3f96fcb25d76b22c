"""Build a model from a config and run it on images (demo, notebooks, tests)."""
from pathlib import Path
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

from dunseg.registry import MODELS
from dunseg.structures import DunSegDataSample

ImageType = Union[str, np.ndarray]


def init_model(config: Union[str, Path, Config],
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None) -> torch.nn.Module:
    """Build a model from a config file and load a checkpoint.

    Checkpoints are loaded with ``weights_only=True``.

    Args:
        config: Config file path or object.
        checkpoint (str, optional): Checkpoint path; None = random init.
        device (str): 'cpu', 'cuda', 'cuda:1' ...
        cfg_options (dict, optional): Overrides merged into the config.
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
        ckpt = load_checkpoint(model, checkpoint, map_location='cpu')
        meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
        if 'dataset_meta' in meta:
            model.dataset_meta = meta['dataset_meta']
    model.cfg = config
    model.to(device)
    model.eval()
    return model


def _test_pipeline(cfg: Config, from_array: bool) -> Compose:
    pipeline = [dict(t) for t in cfg.test_dataloader.dataset.pipeline]
    # Inference has no ground truth: drop annotation loading.
    pipeline = [t for t in pipeline if 'Annotation' not in t['type']]
    if from_array:
        if 'LoadImage' not in pipeline[0]['type']:
            raise ValueError('the test pipeline does not start with an image '
                             'loading transform; cannot feed arrays')
        pipeline[0] = dict(type='LoadISTDImageFromNDArray',
                           **{k: v for k, v in pipeline[0].items()
                              if k == 'color_type'})
    return Compose(pipeline)


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
        The data sample(s) with ``pred_score`` / ``pred_mask`` and, on
        request, ``stage_states``.
    """
    single = isinstance(images, (str, Path, np.ndarray))
    batch = [images] if single else list(images)
    cfg = model.cfg
    init_default_scope(cfg.get('default_scope', 'dunseg'))
    results = []
    previous = getattr(model, 'return_stages', False)
    model.return_stages = return_stages
    try:
        for image in batch:
            from_array = isinstance(image, np.ndarray)
            pipeline = _test_pipeline(cfg, from_array)
            data = pipeline(dict(img=image) if from_array else dict(
                img_path=str(image)))
            results.extend(model.test_step(pseudo_collate([data])))
    finally:
        model.return_stages = previous
    return results[0] if single else results
