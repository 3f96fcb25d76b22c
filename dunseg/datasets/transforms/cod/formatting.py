"""Packing a COD sample for the model."""
from typing import Sequence, Tuple

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData

from dunseg.registry import TRANSFORMS
from dunseg.structures import DunSegDataSample
from dunseg.utils.finite import check_finite_image

from .common import _name

COD_META_KEYS = ('img_path', 'seg_map_path', 'edge_path', 'ori_shape',
                 'img_shape', 'scale_factor', 'flip', 'flip_direction',
                 'rotation', 'dataset_name', 'sample_idx', 'degradation',
                 'degradation_level', 'source', 'shape_kind')


@TRANSFORMS.register_module()
class PackCODInputs(BaseTransform):
    """Pack a COD sample into ``dict(inputs, data_samples)``.

    - ``inputs``: ``torch.float32`` (3, H, W) in [0, 1] (the degraded image
      for degraded data);
    - ``data_samples``: :class:`DunSegDataSample` with ``gt_mask`` and
      ``gt_edge`` (:class:`PixelData` (1, h, w) ``torch.uint8`` in {0, 1}),
      ``gt_image`` (``PixelData`` (3, H, W) float32, the clean image, when
      ``gt_img`` is present) and the ``meta_keys`` present as metainfo
      (``dataset_name``, ``ori_shape``, ``img_path`` ...).

    Masks either match the input size (training) or the original size
    ``ori_shape`` (test pipelines that load annotations after the resize);
    anything else is an error.

    Args:
        meta_keys (Sequence[str]): Result keys copied to the metainfo.
    """

    def __init__(self, meta_keys: Sequence[str] = COD_META_KEYS) -> None:
        self.meta_keys = tuple(meta_keys)

    @staticmethod
    def _image(img, key: str, results: dict) -> torch.Tensor:
        if not isinstance(img, np.ndarray) or img.ndim != 3:
            raise ValueError(
                f'PackCODInputs: results[{key!r}] of {_name(results)} must be '
                'an (H, W, C) array, got '
                f'{getattr(img, "shape", type(img).__name__)}')
        if not np.issubdtype(img.dtype, np.floating):
            raise TypeError(
                f'PackCODInputs: results[{key!r}] of {_name(results)} is '
                f'{img.dtype}; expected float32 in [0, 1] (load with '
                "LoadCODImageFromFile, not mmcv's LoadImageFromFile)")
        check_finite_image(img, results.get('img_path'),
                           f'PackCODInputs: {key} of')
        return torch.from_numpy(
            np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32))

    @staticmethod
    def _map(arr, key: str, results: dict,
             input_hw: Tuple[int, int]) -> PixelData:
        arr = np.asarray(arr)
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[..., 0]
        allowed = {tuple(input_hw)}
        if results.get('ori_shape') is not None:
            allowed.add(tuple(results['ori_shape'][:2]))
        if tuple(arr.shape) not in allowed:
            raise ValueError(
                f'PackCODInputs: {key} of {_name(results)} has shape '
                f'{arr.shape}, but the image is {tuple(input_hw)} (original '
                f'{results.get("ori_shape")}); a transform changed only one '
                'of them (use the COD transforms)')
        if arr.size and arr.max() > 1:
            raise ValueError(
                f'PackCODInputs: {key} of {_name(results)} has values up to '
                f'{arr.max()}, expected {{0, 1}}; load it with '
                'LoadCODAnnotations, which binarises it')
        return PixelData(data=torch.from_numpy(
            np.ascontiguousarray(arr, dtype=np.uint8)[None]))

    def transform(self, results: dict) -> dict:
        if results.get('img') is None:
            raise KeyError(f'PackCODInputs: no img in the results of '
                           f'{_name(results)}; the pipeline needs '
                           'LoadCODImageFromFile first')
        inputs = self._image(results['img'], 'img', results)
        hw = tuple(inputs.shape[1:])
        sample = DunSegDataSample()
        if results.get('gt_seg_map') is not None:
            sample.gt_mask = self._map(results['gt_seg_map'], 'gt_seg_map',
                                       results, hw)
        if results.get('gt_edge_map') is not None:
            sample.gt_edge = self._map(results['gt_edge_map'], 'gt_edge_map',
                                       results, hw)
        if results.get('gt_img') is not None:
            gt = self._image(results['gt_img'], 'gt_img', results)
            if gt.shape != inputs.shape:
                raise ValueError(
                    f'PackCODInputs: clean image {tuple(gt.shape)} and input '
                    f'{tuple(inputs.shape)} of {_name(results)} differ; a '
                    'transform changed only one of them')
            sample.gt_image = PixelData(data=gt)
        sample.set_metainfo(
            {k: results[k]
             for k in self.meta_keys if k in results})
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'
