"""Training-free prediction maps a concealed-object model must beat.

Both know nothing about the image but its size:

- :func:`centre_gaussian_map`: a centred Gaussian, σ a quarter of the
  height (rows) and of the width (columns). Photographers centre their
  subject, so this map already scores a non-trivial Sα on many object
  datasets; a model under it has learned less than "look at the middle".
- :func:`all_zero_map`: nothing is an object. Its MAE is the mean share of
  object pixels, the MAE floor of any useful map, and its Sα depends on the
  masks only.

Score them as any prediction (``prediction_to_uint8`` then
``evaluate_cod_image`` of :mod:`dunseg.evaluation.metrics.cod_metric`);
``tools/experiments/cod_baselines.py`` and
``tools/analysis_tools/score_folder.py`` do.
"""
from typing import Callable, Dict, Sequence

import numpy as np


def _check_shape(shape: Sequence[int]) -> tuple:
    shape = tuple(int(s) for s in shape[:2])
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f'a baseline map needs a (H, W) of positive sizes, '
                         f'got {shape}')
    return shape


def centre_gaussian_map(shape: Sequence[int]) -> np.ndarray:
    """(H, W) float32 Gaussian in (0, 1], 1 at the image centre, σ = H / 4
    along rows and W / 4 along columns.

    Args:
        shape: (H, W) of the image (a longer shape, e.g. (H, W, C), is cut
            to its first two sizes).
    """
    h, w = _check_shape(shape)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.exp(-(((yy - (h - 1) / 2) / (h / 4))**2 +
                    ((xx - (w - 1) / 2) / (w / 4))**2) / 2)


def all_zero_map(shape: Sequence[int]) -> np.ndarray:
    """(H, W) float32 zeros: every pixel is background."""
    return np.zeros(_check_shape(shape), np.float32)


#: The baselines by the names the tools report them under.
COD_BASELINES: Dict[str, Callable[[Sequence[int]], np.ndarray]] = {
    'centre-gaussian': centre_gaussian_map,
    'all-zero': all_zero_map,
}
