"""Pack pipeline results into the model's input format."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData

from dunseg.registry import TRANSFORMS
from dunseg.structures import DunSegDataSample
from dunseg.utils.finite import check_finite_image

DEFAULT_META_KEYS = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape',
                     'scale_factor', 'flip', 'flip_direction', 'transposed',
                     'num_targets', 'scene_type')


@TRANSFORMS.register_module()
class PackISTDInputs(BaseTransform):
    """Pack an ISTD sample into ``dict(inputs=..., data_samples=...)``.

    - ``inputs``: ``torch.float32`` tensor of shape (C, H, W) in [0, 1].
    - ``data_samples``: :class:`DunSegDataSample` whose ``gt_mask`` is a
      :class:`PixelData` with ``data`` of shape (1, H, W), ``torch.uint8``
      in {0, 1} (only when ``gt_seg_map`` is in the results), and whose meta
      information holds the ``meta_keys`` present in the results.

    The channel count is passed through unchanged; the model's data
    preprocessor checks it against what the network expects.

    Required keys: ``img``. Optional: ``gt_seg_map`` and ``meta_keys``.

    Args:
        meta_keys (Sequence[str]): Result keys copied into the data sample's
            meta information when present. Defaults to ``img_path,
            seg_map_path, ori_shape, img_shape, scale_factor, flip,
            flip_direction, transposed, num_targets, scene_type``.
    """

    def __init__(self, meta_keys: Sequence[str] = DEFAULT_META_KEYS) -> None:
        self.meta_keys = tuple(meta_keys)

    @staticmethod
    def _image_to_tensor(img: np.ndarray, img_path) -> torch.Tensor:
        if not isinstance(img, np.ndarray):
            raise TypeError(
                "PackISTDInputs expects results['img'] as a numpy array, got "
                f'{type(img).__name__} for {img_path!r}')
        if not np.issubdtype(img.dtype, np.floating):
            raise TypeError(
                f'PackISTDInputs got a {img.dtype} image for {img_path!r}; '
                'dunseg models expect float32 in [0, 1]. Load images with '
                "LoadISTDImageFromFile instead of mmcv's LoadImageFromFile.")
        if img.ndim == 2:
            # A 2-D array can only be a grey image whose channel axis was
            # dropped (e.g. by mmcv's Resize); restore it.
            img = img[..., None]
        if img.ndim != 3:
            raise ValueError(
                f'PackISTDInputs expects an (H, W, C) image, got shape '
                f'{img.shape} for {img_path!r}')
        check_finite_image(img, img_path, 'PackISTDInputs: image')
        # Flips return negative-stride views that torch cannot wrap.
        img = np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32)
        return torch.from_numpy(img)

    def transform(self, results: dict) -> dict:
        img_path = results.get('img_path')
        if 'img' not in results:
            raise KeyError(f'PackISTDInputs: no "img" in the results of '
                           f'{img_path!r}; the pipeline needs an image '
                           'loader (LoadISTDImageFromFile) first')
        inputs = self._image_to_tensor(results['img'], img_path)

        data_sample = DunSegDataSample()
        gt_seg_map = results.get('gt_seg_map')
        if gt_seg_map is not None:
            gt_seg_map = np.asarray(gt_seg_map)
            if gt_seg_map.ndim == 3 and gt_seg_map.shape[2] == 1:
                gt_seg_map = gt_seg_map[..., 0]
            if gt_seg_map.shape != tuple(inputs.shape[1:]):
                raise ValueError(
                    f'PackISTDInputs: gt_seg_map of {img_path!r} has shape '
                    f'{gt_seg_map.shape} but the image is '
                    f'{tuple(inputs.shape[1:])} (H, W); a transform changed '
                    'only one of them; use ResizeISTD / RandomFlip / '
                    'RandomTranspose, which handle both')
            if gt_seg_map.size and gt_seg_map.max() > 1:
                raise ValueError(
                    f'PackISTDInputs: gt_seg_map of {img_path!r} has values '
                    f'up to {gt_seg_map.max()}, expected {{0, 1}}; load masks '
                    'with LoadISTDAnnotations, which binarises them')
            mask = np.ascontiguousarray(gt_seg_map, dtype=np.uint8)[None]
            data_sample.gt_mask = PixelData(data=torch.from_numpy(mask))

        metainfo = {
            key: results[key]
            for key in self.meta_keys if key in results
        }
        data_sample.set_metainfo(metainfo)
        return dict(inputs=inputs, data_samples=data_sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
