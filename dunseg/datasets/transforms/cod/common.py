"""What the COD transforms share: the keys they move together, their
checks, and the boundary band of a mask (the edge map)."""
from typing import Sequence, Tuple

import cv2
import numpy as np

COD_IMAGE_KEYS = ('img', 'gt_img')
COD_MAP_KEYS = ('gt_seg_map', 'gt_edge_map')


def _name(results: dict) -> str:
    return repr(results.get('img_path', '<generated sample>'))


def _present_keys(results: dict, keys: Sequence[str]) -> list:
    return [k for k in keys if results.get(k) is not None]


def _check_same_size(results: dict, keys: Sequence[str],
                     who: str) -> Tuple[int, int]:
    shapes = {k: tuple(results[k].shape[:2]) for k in keys}
    if len(set(shapes.values())) > 1:
        raise ValueError(
            f'{who}: image and maps of {_name(results)} differ in size '
            f'{shapes}; a transform changed only some of them (use the COD '
            'transforms, which handle img, gt_img, gt_seg_map and '
            'gt_edge_map together), or the mask file does not match its '
            'image')
    if not shapes:
        raise KeyError(f'{who}: no image in the results of {_name(results)};'
                       ' load it first (LoadCODImageFromFile)')
    return next(iter(shapes.values()))


def mask_boundary(mask: np.ndarray, width: int = 5) -> np.ndarray:
    """Boundary band of a binary mask: ``dilate(mask) - erode(mask)``.

    Both use a (width x width) elliptical structuring element, so the band
    holds the pixels within ``width // 2`` of the contour on either side
    (about ``width - 1`` pixels across), which is what the dilated edge
    maps RUN / FEDER train with look like. An all-zero or all-one mask has
    no boundary; the image border is not a boundary.

    Args:
        mask (np.ndarray): (H, W) array, non-zero = object.
        width (int): Structuring element size (odd, >= 3).

    Returns:
        np.ndarray: (H, W) uint8 in {0, 1}.
    """
    mask = (np.asarray(mask) > 0).astype(np.uint8)
    if int(width) != width or width < 3 or width % 2 == 0:
        raise ValueError(f'mask_boundary: width must be an odd int >= 3, got '
                         f'{width!r}')
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE,
                                       (int(width), int(width)))
    dil = cv2.dilate(mask, kernel, borderType=cv2.BORDER_REPLICATE)
    ero = cv2.erode(mask, kernel, borderType=cv2.BORDER_REPLICATE)
    return (dil - ero).astype(np.uint8)

