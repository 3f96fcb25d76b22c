"""k-space undersampling of CT and MRI slices, VL-DUN's degradation model.

VL-DUN (arXiv 2601.23103, Eq. 5) degrades both modalities the same way,

    y = F⁻¹(M ⊙ F(x)),

with a **radial** mask ``M`` for sparse-view CT (by the central slice
theorem, parallel-beam projections at a few angles are spokes through the
k-space origin) and a **Cartesian** mask for accelerated MRI (whole
phase-encoding lines). The masks come from :func:`radial_mask` and
:func:`cartesian_mask`; the operator is :class:`KSpaceMask`, so the data
pipeline and a model's data term share one definition:

- the degraded image is ``KSpaceMask(M).AtA(x)`` = ``Re F⁻¹(M ⊙ F x)`` (the
  exact adjoint of the real-input operator; ``x`` is real, so the real part
  is the zero-filled reconstruction the model sees);
- a model rebuilds the operator from the masks the pipeline stored
  (``data_sample.kspace_mask``, centred, DC at ``(H // 2, W // 2)``) with
  :func:`kspace_operator_from_masks`.

Per-image seeds: :func:`stable_seed` hashes an image id with BLAKE2b, not
Python's ``hash()``, which is salted per process (``PYTHONHASHSEED``) and
would give every run and every dataloader worker a different test set.
"""
import hashlib
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor

from .operators import KSpaceMask, cartesian_mask, radial_mask

MODALITIES = ('CT', 'MRI')
#: The sampling pattern of each modality (VL-DUN, Sec. 4.1).
MODALITY_PATTERNS = dict(CT='radial', MRI='cartesian')


def stable_seed(*parts: Union[int, str]) -> int:
    """A 63-bit seed from ints and strings, equal in every process.

    ``stable_seed(0, 'ACDC/patient001_frame01/7')`` is the same on every
    machine, run and dataloader worker.
    """
    digest = hashlib.blake2b(digest_size=8)
    for part in parts:
        digest.update(repr(part).encode('utf-8'))
        digest.update(b'\x00')
    return int.from_bytes(digest.digest(), 'little') >> 1


def check_modality(modality, who: str) -> str:
    """``'CT'`` or ``'MRI'`` (``'MR'`` and lower case accepted), else an
    error naming ``who``."""
    name = str(modality).upper()
    name = 'MRI' if name == 'MR' else name
    if name not in MODALITIES:
        raise ValueError(f'{who}: modality must be one of {MODALITIES}, got '
                         f'{modality!r}')
    return name


def make_kspace_mask(modality: str,
                     shape: Tuple[int, int],
                     acceleration: float = 4.0,
                     num_spokes: Optional[int] = None,
                     center_fraction: float = 0.08,
                     pattern: str = 'random',
                     golden_angle: bool = False,
                     seed: Optional[int] = None) -> np.ndarray:
    """The modality's undersampling mask, float32 (H, W) in {0, 1}, DC at
    ``(H // 2, W // 2)``.

    Args:
        modality (str): ``'CT'`` (radial spokes) or ``'MRI'`` (Cartesian
            columns).
        shape (tuple[int, int]): (H, W).
        acceleration (float): MRI: ``W / number of sampled columns``. CT,
            when ``num_spokes`` is None: the fewest spokes whose sampled
            fraction reaches ``1 / acceleration``.
        num_spokes (int, optional): CT: number of spokes (projection
            angles over 180°).
        center_fraction (float): MRI: fraction of fully sampled central
            columns (0.08 is fastMRI's 4x setting).
        pattern (str): MRI: ``'random'`` or ``'equispaced'`` columns.
        golden_angle (bool): CT: golden-angle instead of uniform spokes.
        seed (int, optional): The same seed gives the same mask.
    """
    modality = check_modality(modality, 'make_kspace_mask')
    if modality == 'CT':
        if num_spokes is not None:
            return radial_mask(shape, num_lines=int(num_spokes),
                               golden_angle=golden_angle, seed=seed)
        return radial_mask(shape, acceleration=acceleration,
                           golden_angle=golden_angle, seed=seed)
    return cartesian_mask(shape, acceleration=acceleration,
                          center_fraction=center_fraction, pattern=pattern,
                          seed=seed)


def zero_filled(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``Re F⁻¹(M ⊙ F x)`` of a real (H, W) image with a centred mask,
    computed by :class:`KSpaceMask` (float64 inside, float32 out)."""
    image = np.asarray(image)
    if image.ndim != 2 or np.shape(mask) != image.shape:
        raise ValueError(
            f'zero_filled: expected an (H, W) image and a mask of the same '
            f'shape, got {image.shape} and {np.shape(mask)}')
    op = KSpaceMask(np.asarray(mask, np.float64), centered=True,
                    real_input=True).double()
    x = torch.from_numpy(np.ascontiguousarray(image, np.float64))[None, None]
    return op.AtA(x)[0, 0].numpy().astype(np.float32)


def kspace_operator_from_masks(masks: Union[Tensor, Sequence]) -> KSpaceMask:
    """The batch's :class:`KSpaceMask` from the masks a pipeline stored.

    Args:
        masks: an (N, 1, H, W) tensor, or data samples whose
            ``kspace_mask`` (:class:`PixelData`, (1, H, W)) was set by
            ``PackMedicalInputs``, or a sequence of (1, H, W) tensors.

    Returns:
        KSpaceMask: ``op.AtA(x)`` equals the packed ``inputs`` (up to
        float32 rounding) for the clean images ``x``.
    """
    if not isinstance(masks, Tensor):
        tensors = []
        for i, item in enumerate(masks):
            if hasattr(item, 'kspace_mask'):
                item = item.kspace_mask.data
            elif not isinstance(item, Tensor):
                raise ValueError(
                    f'kspace_operator_from_masks: item {i} is '
                    f'{type(item).__name__} without a kspace_mask; the test '
                    'pipeline needs KSpaceUndersample and PackMedicalInputs')
            tensors.append(torch.as_tensor(item).float())
        shapes = {tuple(t.shape) for t in tensors}
        if len(shapes) != 1:
            raise ValueError(f'kspace_operator_from_masks: masks differ in '
                             f'shape {sorted(shapes)}; resize the slices to '
                             'one size (ResizeMedical) before undersampling')
        masks = torch.stack(tensors)
    if masks.ndim != 4 or masks.shape[1] != 1:
        raise ValueError('kspace_operator_from_masks: expected (N, 1, H, W) '
                         f'masks, got {tuple(masks.shape)}')
    return KSpaceMask(masks, centered=True, real_input=True)


__all__ = [
    'MODALITIES', 'MODALITY_PATTERNS', 'stable_seed', 'check_modality',
    'make_kspace_mask', 'zero_filled', 'kspace_operator_from_masks'
]
