"""Loading COD images and annotations, and edge maps derived from masks."""
from typing import Optional, Union

import numpy as np
from mmcv.transforms import BaseTransform

from dunseg.registry import TRANSFORMS

from ..loading import (
    LoadISTDAnnotations,
    LoadISTDImageFromFile,
    decode_image_unchanged,
)
from .common import _name, mask_boundary


@TRANSFORMS.register_module()
class LoadCODImageFromFile(LoadISTDImageFromFile):
    """Load a COD image as RGB float32 (H, W, 3) in [0, 1].

    :class:`LoadISTDImageFromFile` with ``color_type='color'`` by default:
    grey files are replicated to three channels, BGR(A) becomes RGB.

    Required keys: ``img_path``. Added keys: ``img``, ``img_shape``,
    ``ori_shape``.
    """

    def __init__(self,
                 color_type: str = 'color',
                 scale: Union[str, float] = 'dtype_max',
                 bit_depth: Optional[int] = None,
                 backend_args: Optional[dict] = None) -> None:
        super().__init__(color_type=color_type, scale=scale,
                         bit_depth=bit_depth, backend_args=backend_args)


@TRANSFORMS.register_module()
class LoadCODAnnotations(LoadISTDAnnotations):
    """Load the object mask (and the edge map when the sample has one).

    Masks and edge maps are binarised at half the dtype maximum
    (``threshold=0.5``, i.e. > 127 for 8-bit files), the rule of the
    MATLAB toolbox and PySODMetrics (``gt > 128`` differs only at the value
    128), so anti-aliased or JPEG-compressed ground truths give clean masks.

    The size check compares the mask with ``results['ori_shape']`` (the
    decoded image's size), so the annotations can be loaded after a
    ``ResizeCOD`` that only resized the image: the test pipelines do this
    to score predictions at the ground truth's original size, as the
    official test scripts do.

    Required keys: ``seg_map_path``; optional ``edge_path`` (None or missing
    = no edge file; use :class:`GenerateEdgeFromMask`).

    Added keys: ``gt_seg_map``, ``gt_edge_map`` (uint8 (H, W) in {0, 1}),
    ``seg_fields``.

    Args:
        with_edge (bool): Load ``edge_path`` when the sample has one.
        threshold (float): Fraction of the dtype maximum a pixel must
            exceed. Defaults to 0.5.
        check_shape (bool): Raise when mask and image sizes differ.
        backend_args (dict, optional): mmengine file backend arguments.
    """

    def __init__(self,
                 with_edge: bool = True,
                 threshold: float = 0.5,
                 check_shape: bool = True,
                 backend_args: Optional[dict] = None) -> None:
        super().__init__(threshold=threshold, check_shape=check_shape,
                         backend_args=backend_args)
        self.with_edge = with_edge

    def transform(self, results: dict) -> dict:
        results = super().transform(results)
        edge_path = results.get('edge_path')
        if self.with_edge and edge_path:
            edge = decode_image_unchanged(edge_path, self.backend_args,
                                          'edge map')
            if edge.ndim == 3:
                edge = edge[..., :3].max(axis=2)
            cutoff = (self.threshold * np.iinfo(edge.dtype).max
                      if np.issubdtype(edge.dtype, np.integer) else
                      self.threshold)
            edge = (edge > cutoff).astype(np.uint8)
            if edge.shape != results['gt_seg_map'].shape:
                raise ValueError(
                    f'edge map {edge_path!r} has size (H, W) = {edge.shape} '
                    f'but its mask {results["seg_map_path"]!r} has '
                    f'{results["gt_seg_map"].shape}; re-create the edge maps '
                    '(or drop edge_dir and add GenerateEdgeFromMask to the '
                    'pipeline)')
            results['gt_edge_map'] = edge
            if 'gt_edge_map' not in results['seg_fields']:
                results['seg_fields'].append('gt_edge_map')
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(with_edge={self.with_edge}, '
                f'threshold={self.threshold})')


@TRANSFORMS.register_module()
class GenerateEdgeFromMask(BaseTransform):
    """Derive ``gt_edge_map`` from ``gt_seg_map`` (dilated object boundary).

    For datasets without edge maps (CAMO, CHAMELEON, NC4K, user data) and
    the synthetic data. Put it after the geometric transforms so the band
    is measured in pixels at the network's resolution.

    Args:
        width (int): Structuring element size (odd), see
            :func:`mask_boundary`. Defaults to 5: a band of 2 px on each side
            of the contour. (The thickness of the edge maps RUN trains with
            is not documented; compare yours with ``Edge/`` and set it.)
        overwrite (bool): Replace an edge map loaded from disk. Defaults to
            False (keep it).
    """

    def __init__(self, width: int = 5, overwrite: bool = False) -> None:
        if int(width) != width or width < 3 or width % 2 == 0:
            raise ValueError('GenerateEdgeFromMask: width must be an odd int '
                             f'>= 3, got {width!r}')
        self.width = int(width)
        self.overwrite = overwrite

    def transform(self, results: dict) -> dict:
        if results.get('gt_edge_map') is not None and not self.overwrite:
            return results
        mask = results.get('gt_seg_map')
        if mask is None:
            raise KeyError(
                f'GenerateEdgeFromMask: no gt_seg_map for {_name(results)}; '
                'load the mask first (LoadCODAnnotations)')
        results['gt_edge_map'] = mask_boundary(mask, self.width)
        seg_fields = results.setdefault('seg_fields', [])
        if 'gt_edge_map' not in seg_fields:
            seg_fields.append('gt_edge_map')
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(width={self.width}, '
                f'overwrite={self.overwrite})')
