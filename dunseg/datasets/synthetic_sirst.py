"""A procedural infrared small-target dataset, generated on the fly.

:class:`SIRSTSceneGenerator` draws one grey infrared frame and its target
mask from a NumPy ``Generator``; :class:`SyntheticSIRSTDataset` seeds that
generator with ``(seed, split, index)`` so every sample is reproducible
without storing images. It is meant for smoke tests, demos and
pre-training, not as a substitute for real benchmarks.

Scenes are drawn by :mod:`dunseg.datasets.synthesis.sirst_scenes`.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.dataset import BaseDataset

from dunseg.registry import DATASETS

from .istd import ISTD_METAINFO, build_pipeline_with_dunseg_registry
from .synthesis.sirst_scenes import SIRSTSceneGenerator

# Streams of np.random.default_rng([seed, stream, index]); distinct streams
# make train and test samples independent for the same seed.
SPLIT_STREAMS = dict(train=0, test=1)


@DATASETS.register_module()
class SyntheticSIRSTDataset(BaseDataset):
    """Procedural infrared small-target dataset generated on the fly.

    Sample ``i`` of split ``s`` is drawn from
    ``np.random.default_rng([seed, SPLIT_STREAMS[s], i])``, so it is
    identical across runs, workers and machines, and the train and test
    splits are independent streams. ``data_list`` holds only the indices,
    which keeps serialisation and worker start-up cheap.

    Results given to the pipeline: ``img`` (float32, (H, W, 1), [0, 1]),
    ``gt_seg_map`` (uint8, (H, W), {0, 1}), ``img_shape``, ``ori_shape``,
    ``img_path`` and ``seg_map_path`` (both None), ``num_targets``,
    ``scene_type``, ``seg_fields`` and ``sample_idx``. The pipeline therefore
    starts after loading, e.g. ``[RandomFlip, RandomTranspose,
    PackISTDInputs]``.

    Args:
        num_samples (int): Length of the dataset.
        img_size (tuple[int, int]): (H, W). Defaults to (256, 256).
        seed (int): Base seed. Defaults to 0.
        split (str): ``'train'`` or ``'test'``.
        max_targets (int): Maximum targets per image. Defaults to 3.
        target_size_range (tuple[int, int]): Bounds of a target mask's
            larger bounding-box side in px. Defaults to (1, 9).
        target_free_ratio (float): Share of images without targets.
            Defaults to 0.1.
        snr_range (tuple[float, float]): Local SNR range. Defaults to
            (3, 15).
        scene_probs (dict, optional): Probabilities of ``sky``, ``sea`` and
            ``ground`` scenes.
        clutter_rate (float): Mean clutter objects per 256x256 area.
        noise_std_range (tuple[float, float]): Sensor noise std range.
        mask_threshold (float): Mask level as a fraction of each target's
            peak. Defaults to 0.4.
        pipeline (Sequence): Transforms, built with dunseg's registry.
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments
            (``indices``, ``serialize_data``, ``test_mode``, ...).
    """

    METAINFO = ISTD_METAINFO

    def __init__(self,
                 num_samples: int = 1000,
                 img_size: Sequence[int] = (256, 256),
                 seed: int = 0,
                 split: str = 'train',
                 max_targets: int = 3,
                 target_size_range: Tuple[int, int] = (1, 9),
                 target_free_ratio: float = 0.1,
                 snr_range: Tuple[float, float] = (3.0, 15.0),
                 scene_probs: Optional[Dict[str, float]] = None,
                 clutter_rate: float = 3.0,
                 noise_std_range: Tuple[float, float] = (0.004, 0.02),
                 mask_threshold: float = 0.4,
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        if split not in SPLIT_STREAMS:
            raise ValueError(f'SyntheticSIRSTDataset: split must be one of '
                             f'{tuple(SPLIT_STREAMS)}, got {split!r}')
        if not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError('SyntheticSIRSTDataset: num_samples must be a '
                             f'positive int, got {num_samples!r}')
        if isinstance(img_size, int):
            img_size = (img_size, img_size)
        self.num_samples = num_samples
        self.seed = int(seed)
        self.split = split
        self.generator = SIRSTSceneGenerator(
            img_size=tuple(img_size),
            max_targets=max_targets,
            target_size_range=target_size_range,
            target_free_ratio=target_free_ratio,
            snr_range=snr_range,
            scene_probs=scene_probs,
            clutter_rate=clutter_rate,
            noise_std_range=noise_std_range,
            mask_threshold=mask_threshold)
        super().__init__(
            pipeline=build_pipeline_with_dunseg_registry(pipeline), **kwargs)

    def load_data_list(self) -> List[dict]:
        return [dict(synthetic_index=i) for i in range(self.num_samples)]

    def generate(self, index: int) -> dict:
        """Generator output (see :class:`SIRSTSceneGenerator`) of ``index``.
        """
        rng = np.random.default_rng(
            [self.seed, SPLIT_STREAMS[self.split],
             int(index)])
        return self.generator(rng)

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        sample = self.generate(info['synthetic_index'])
        img = sample['img'][..., None]
        info.update(
            img_path=None,
            seg_map_path=None,
            img=img,
            gt_seg_map=sample['mask'],
            img_shape=img.shape[:2],
            ori_shape=img.shape[:2],
            seg_fields=['gt_seg_map'],
            num_targets=sample['num_targets'],
            scene_type=sample['scene_type'])
        return info
