"""Intensity normalisation of medical volumes and slices to [0, 1]."""
import warnings
from typing import Tuple

import numpy as np

from dunseg.physics.undersampling import check_modality
from dunseg.utils.finite import check_finite_image


def window_ct(volume: np.ndarray,
              window: Tuple[float, float] = (40.0, 400.0)) -> np.ndarray:
    """Clip HU to ``[centre - width/2, centre + width/2]`` and map to
    [0, 1] (float32)."""
    centre, width = float(window[0]), float(window[1])
    if width <= 0:
        raise ValueError(f'window_ct: width must be > 0, got {window!r}')
    lo = centre - width / 2
    out = (np.asarray(volume, np.float32) - np.float32(lo)) / np.float32(width)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def scale_mri(volume: np.ndarray,
              percentiles: Tuple[float, float] = (0.5, 99.5),
              nonzero: bool = False) -> np.ndarray:
    """Map the ``percentiles`` of the volume (of its non-zero voxels with
    ``nonzero=True``) to 0 and 1, clip, float32."""
    volume = np.asarray(volume, np.float32)
    values = volume[volume != 0] if nonzero else volume
    if values.size == 0:
        return np.zeros_like(volume)
    lo, hi = np.percentile(values, percentiles)
    if hi <= lo:
        return np.zeros_like(volume)
    out = (volume - np.float32(lo)) / np.float32(hi - lo)
    if nonzero:
        out[volume == 0] = 0.0
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def normalise_volume(volume: np.ndarray, modality: str, source: str,
                     ct_window: Tuple[float, float] = (40.0, 400.0),
                     mri_percentiles: Tuple[float, float] = (0.5, 99.5),
                     mri_nonzero: bool = False) -> np.ndarray:
    """The modality's normalisation (see the module docstring)."""
    check_finite_image(volume, source, 'volume')
    if check_modality(modality, 'normalise_volume') == 'CT':
        if volume.size and float(volume.min()) > -200:
            warnings.warn(
                f'CT volume {source!r} has no value below -200 (min '
                f'{float(volume.min()):g}), so it is not in Hounsfield '
                'units; scaling its 0.5-99.5 percentiles to [0, 1] instead '
                'of the HU window', stacklevel=2)
            return scale_mri(volume, (0.5, 99.5))
        return window_ct(volume, ct_window)
    return scale_mri(volume, mri_percentiles, mri_nonzero)

