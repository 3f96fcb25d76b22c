"""Embedded concealed-object data: objects cut from their own background.

No COD image ships in any package, so :class:`SyntheticCODDataset` makes
camouflage procedurally: the scene (texture canvas, background, object
texture, shape and composite) comes from
:class:`~dunseg.datasets.synthesis.cod_scenes.CODSceneGenerator`. The mask
is the hard shape (pixel-exact; the soft border's 50 % contour) and the
edge map is its dilated boundary
(:func:`~dunseg.datasets.transforms.cod.mask_boundary`). With
``degradation`` set, the input is a degraded version: NUN's low light /
haze / low resolution / combined at a level
(:func:`~dunseg.datasets.transforms.cod.degrade_cod_image`); the clean
image is then kept as ``gt_img``.

Sample ``i`` of split ``s`` uses ``np.random.default_rng([seed,
SPLIT_STREAMS[s], i])``; photographs are cut into disjoint bands for the
train and test splits (the second half of the longer axis is test-only),
so test scenes never reuse training pixels.
"""
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.dataset import BaseDataset

from dunseg.registry import DATASETS

from .cod import COD_METAINFO
from .istd import build_pipeline_with_dunseg_registry
from .synthesis.cod_scenes import SPLIT_STREAMS, CODSceneGenerator
from .transforms.cod import (
    DEGRADATION_KINDS,
    DEGRADATION_LEVELS,
    degrade_cod_image,
    mask_boundary,
)

# Stream of the degradation's generator, apart from the scene's.
_DEGRADATION_STREAM = 7


@DATASETS.register_module()
class SyntheticCODDataset(BaseDataset):
    """Embedded procedural COD dataset (see the module docstring).

    Results given to the pipeline: ``img`` (float32 (H, W, 3) in [0, 1],
    degraded when ``degradation`` is set), ``gt_img`` (the clean image,
    only with ``degradation``), ``gt_seg_map`` and ``gt_edge_map`` (uint8
    (H, W) in {0, 1}), ``img_path`` (``'synthetic://<split>/<i>'``),
    ``dataset_name``, ``source``, ``shape_kind``, ``degradation``,
    ``degradation_level``, ``img_shape``, ``ori_shape``, ``sample_idx``.
    The pipeline starts after loading, e.g. ``[CODRandomFlip,
    PackCODInputs]``.

    Args:
        num_samples (int): Length of the dataset.
        img_size (int | tuple[int, int]): (H, W).
        seed (int): Base seed; sample ``i`` is the same on every call.
        split (str): ``'train'`` or ``'test'`` (independent streams,
            disjoint photograph regions).
        degradation (dict, optional): ``dict(kind=..., level=...)`` as for
            ``CODDegrade`` (kinds ``lowlight``, ``haze``, ``lowres``,
            ``combined`` or a list; levels ``light``, ``medium``,
            ``heavy`` or a list), applied deterministically per sample.
            An optional ``clean_fraction`` in [0, 1) leaves that share of
            the samples clean (``gt_img`` is then the input itself and
            ``degradation`` is ``'clean'``), so one training set covers the
            clean and the degraded test splits. None = clean images only.
        edge_width (int): Width of the edge band (odd), see
            :func:`~dunseg.datasets.transforms.cod.mask_boundary`.
        dataset_name (str, optional): Reported by the metric; defaults to
            ``'SyntheticCOD'`` or ``'SyntheticCOD-<kind>-<level>'``.
        difficulty (str): How closely objects match their surroundings:
            ``'easy'`` (default, learnable from scratch in minutes on a
            CPU), ``'medium'`` or ``'hard'`` (see :data:`DIFFICULTIES`).
        generator (dict, optional): :class:`CODSceneGenerator` arguments
            (``difficulty``, ``sources``, ``texture_prob``,
            ``shape_kinds``, ``size_range``, ``colour_shift``,
            ``border_sigma``, ``shading``,
            ``texture_shift``, ``texture_scale``, ``texture_angle``,
            ``test_fraction``, ``foreign_object_prob``, ``colour_match``).
        clean_reference (bool): For an undegraded set, give every scene
            itself as its restoration target (``gt_img``, degradation
            ``'clean'``), so a restorer's output on clean input is scored:
            a perfect one returns the scene unchanged (100 dB).
        pipeline (Sequence): Transforms, built with dunseg's registry.
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments.
    """

    METAINFO = COD_METAINFO

    def __init__(self,
                 num_samples: int = 1000,
                 img_size: Union[int, Tuple[int, int]] = (128, 128),
                 seed: int = 0,
                 split: str = 'train',
                 degradation: Optional[dict] = None,
                 edge_width: int = 5,
                 dataset_name: Optional[str] = None,
                 difficulty: str = 'easy',
                 generator: Optional[dict] = None,
                 clean_reference: bool = False,
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        name = type(self).__name__
        if not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError(f'{name}: num_samples must be a positive int, '
                             f'got {num_samples!r}')
        if isinstance(img_size, int):
            img_size = (img_size, img_size)
        if len(img_size) != 2 or min(img_size) < 16:
            raise ValueError(f'{name}: img_size must be (H, W) >= 16, got '
                             f'{img_size!r}')
        self.kinds: Tuple[str, ...] = ()
        self.levels: Tuple[str, ...] = ()
        # None: no degradation to leave out (see CleanWarmupHook)
        self.clean_fraction: Optional[float] = None
        if degradation is not None:
            degradation = dict(degradation)
            kind = degradation.pop('kind', 'combined')
            level = degradation.pop('level', 'medium')
            clean_fraction = degradation.pop('clean_fraction', 0.0)
            degradation.pop('type', None)
            if degradation:
                raise ValueError(f'{name}: degradation takes kind, level and '
                                 f'clean_fraction, got extra keys '
                                 f'{sorted(degradation)}')
            if not 0.0 <= float(clean_fraction) < 1.0:
                raise ValueError(f'{name}: degradation clean_fraction must '
                                 f'be in [0, 1), got {clean_fraction!r}')
            self.clean_fraction = float(clean_fraction)
            self.kinds = (kind, ) if isinstance(kind, str) else tuple(kind)
            self.levels = ((level, ) if isinstance(level, str) else
                           tuple(level))
            if not self.kinds or any(k not in DEGRADATION_KINDS
                                     for k in self.kinds):
                raise ValueError(f'{name}: degradation kind must be in '
                                 f'{DEGRADATION_KINDS}, got {kind!r}')
            if not self.levels or any(lv not in DEGRADATION_LEVELS
                                      for lv in self.levels):
                raise ValueError(f'{name}: degradation level must be in '
                                 f'{DEGRADATION_LEVELS}, got {level!r}')
        self.num_samples = num_samples
        self.img_size = (int(img_size[0]), int(img_size[1]))
        self.seed = int(seed)
        self.split = split
        self.edge_width = int(edge_width)
        self.clean_reference = bool(clean_reference)
        if self.clean_reference and degradation is not None:
            raise ValueError(f'{name}: clean_reference=True makes an '
                             'undegraded set its own restoration target; '
                             'degraded sets have one already (remove '
                             'clean_reference or degradation)')
        mask_boundary(np.zeros((3, 3), np.uint8), self.edge_width)  # check
        generator = dict(generator or {})
        generator.setdefault('difficulty', difficulty)
        self.generator = CODSceneGenerator(img_size=self.img_size,
                                           split=split, **generator)
        if dataset_name is None:
            dataset_name = 'SyntheticCOD'
            if self.kinds:
                dataset_name += '-' + '+'.join(self.kinds) + '-' + '+'.join(
                    self.levels)
            if self.clean_fraction:
                dataset_name += f'+clean{self.clean_fraction:g}'
        self.dataset_name = dataset_name
        super().__init__(
            pipeline=build_pipeline_with_dunseg_registry(pipeline), **kwargs)

    def load_data_list(self) -> List[dict]:
        return [dict(synthetic_index=i) for i in range(self.num_samples)]

    def generate(self, index: int) -> dict:
        """Images and maps of sample ``index`` (deterministic)."""
        stream = [self.seed, SPLIT_STREAMS[self.split], int(index)]
        scene = self.generator(np.random.default_rng(stream))
        scene['gt_edge_map'] = mask_boundary(scene['gt_seg_map'],
                                             self.edge_width)
        if self.kinds:
            rng = np.random.default_rng(stream + [_DEGRADATION_STREAM])
            kind = self.kinds[int(rng.integers(len(self.kinds)))]
            level = self.levels[int(rng.integers(len(self.levels)))]
            scene['gt_img'] = scene['img']
            # a stream of its own, so that a clean share leaves every
            # degraded sample exactly as without it
            keep_clean = np.random.default_rng(
                stream + [_DEGRADATION_STREAM, 1]).random()
            if keep_clean < self.clean_fraction:
                scene['img'] = scene['img'].copy()
                scene.update(degradation='clean', degradation_level='none')
            else:
                scene['img'] = degrade_cod_image(scene['img'], kind, level,
                                                 rng)
                scene.update(degradation=kind, degradation_level=level)
        elif self.clean_reference:
            scene['gt_img'] = scene['img']
            scene.update(degradation='clean', degradation_level='none')
        return scene

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        index = info['synthetic_index']
        info.update(self.generate(index))
        info.update(img_path=f'synthetic://{self.split}/{index}',
                    seg_map_path=None,
                    dataset_name=self.dataset_name,
                    img_shape=self.img_size,
                    ori_shape=self.img_size,
                    seg_fields=['gt_seg_map', 'gt_edge_map'])
        return info



__all__ = ['SyntheticCODDataset']
