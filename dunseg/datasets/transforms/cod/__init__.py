"""Transforms for concealed (camouflaged) object detection (COD) pipelines.

Results contract (established by :class:`LoadCODImageFromFile` /
:class:`LoadCODAnnotations`, or by ``SyntheticCODDataset``, and kept by
every transform here):

- ``img``: ``np.float32`` (H, W, 3) RGB in [0, 1], the network input (the
  degraded image once :class:`CODDegrade` ran);
- ``gt_img``: the clean image, same shape and type (only for degraded data);
- ``gt_seg_map``: ``np.uint8`` (H, W) object mask in {0, 1};
- ``gt_edge_map``: ``np.uint8`` (H, W) object boundary in {0, 1} (loaded
  from an ``Edge`` folder or made by :class:`GenerateEdgeFromMask`);
- ``img_shape`` / ``ori_shape``: (H, W); ``dataset_name``: the test set's
  name, reported per set by ``CODMetric``.

Modules: :mod:`.loading` (files, edge maps from masks), :mod:`.augmentation`
(RUN's training augmentations), :mod:`.degradation` (NUN's degradations),
:mod:`.formatting` (packing) and :mod:`.common` (shared keys and checks,
:func:`mask_boundary`).
"""
from .augmentation import (
                           CODColorEnhance,
                           CODRandomCrop,
                           CODRandomFlip,
                           CODRandomPepper,
                           CODRandomRotate,
                           ResizeCOD,
                           enhance_colour,
)
from .common import COD_IMAGE_KEYS, COD_MAP_KEYS, mask_boundary
from .degradation import (
                           DEGRADATION_KINDS,
                           DEGRADATION_LEVELS,
                           DEGRADE_FUNCTIONS,
                           HAZE_LEVELS,
                           LOWLIGHT_LEVELS,
                           LOWRES_LEVELS,
                           CODDegrade,
                           degradation_seed,
                           degrade_cod_image,
                           degrade_combined,
                           degrade_haze,
                           degrade_lowlight,
                           degrade_lowres,
)
from .formatting import COD_META_KEYS, PackCODInputs
from .loading import (
                           GenerateEdgeFromMask,
                           LoadCODAnnotations,
                           LoadCODImageFromFile,
)

__all__ = [
    'LoadCODImageFromFile', 'LoadCODAnnotations', 'GenerateEdgeFromMask',
    'CODRandomFlip', 'CODRandomCrop', 'CODRandomRotate', 'CODColorEnhance',
    'CODRandomPepper', 'ResizeCOD', 'CODDegrade', 'PackCODInputs',
    'mask_boundary', 'enhance_colour', 'degrade_cod_image',
    'degrade_lowlight', 'degrade_haze', 'degrade_lowres', 'degrade_combined',
    'degradation_seed', 'DEGRADE_FUNCTIONS', 'DEGRADATION_KINDS',
    'DEGRADATION_LEVELS', 'LOWLIGHT_LEVELS', 'HAZE_LEVELS', 'LOWRES_LEVELS',
    'COD_IMAGE_KEYS', 'COD_MAP_KEYS', 'COD_META_KEYS'
]
