"""Reject non-finite pixels before they turn into plausible-looking results.

NaN fails every comparison, so a range check such as ``img.min() < 0``
lets it through; one NaN pixel then makes every score NaN and every
threshold decision False ("0 targets"). These checks say which file or
prediction holds the bad values instead.
"""
from typing import List, Union

import numpy as np
import torch
from mmengine.structures import BaseDataElement, PixelData

ArrayLike = Union[np.ndarray, torch.Tensor]


def _count_non_finite(values: ArrayLike) -> int:
    if isinstance(values, torch.Tensor):
        if not values.is_floating_point():
            return 0
        return int((~torch.isfinite(values)).sum())
    values = np.asarray(values)
    if not np.issubdtype(values.dtype, np.floating):
        return 0
    return int((~np.isfinite(values)).sum())


def check_finite_image(img: ArrayLike, source, what: str = 'image') -> None:
    """Raise ``ValueError`` if ``img`` holds NaN or infinite values.

    Args:
        img: The image (numpy array or tensor).
        source: The file it came from (or a description), for the message.
        what: What the array is ("image", "clean image", ...).
    """
    bad = _count_non_finite(img)
    if bad:
        raise ValueError(
            f'{what} {source!r} has {bad} NaN or infinite value(s) of '
            f'{int(np.prod(img.shape))}; dunseg models need finite '
            'intensities. Re-export the file or replace the invalid pixels '
            '(e.g. numpy.nan_to_num) before inference.')


def non_finite_predictions(sample: BaseDataElement) -> List[str]:
    """Names of the ``pred_*`` fields of a data sample that are not finite."""
    bad = []
    for name in sample.keys():
        if not name.startswith('pred_'):
            continue
        value = getattr(sample, name)
        if isinstance(value, PixelData):
            value = value.data
        if isinstance(value, (np.ndarray, torch.Tensor)) and \
                _count_non_finite(value):
            bad.append(name)
    return bad
