"""Real CT / MR slices that installed packages ship, as training crops.

The embedded phantoms have exact labels but no real anatomy; these files
give a model real content to restore without any download. They have no
label maps, so their samples carry ``seg_labelled=False`` and a joint model
trains restoration (and its prior) on them, not segmentation.

Sources (:data:`PACKAGED_SLICE_SOURCES`; origins in pydicom's
``data/test_files/README.txt``):

- ``ct_693_j2ki``: pydicom's ``693_J2KI.dcm``, a 512x512 CT slice,
  JPEG 2000 (decoded by Pillow's OpenJPEG plugin when pylibjpeg is absent);
- ``ct_j2k_pixelrep``: pydicom's ``J2K_pixelrep_mismatch.dcm``, a 512x512
  head CT, JPEG 2000 lossless;
- ``mr_overlay``: pydicom's ``examples_overlay.dcm``, a 300x484 abdominal
  MR (a cropped GDCM test image);
- ``mr_anatomical``: the 25 slices (41x33) of nibabel's
  ``tests/data/anatomical.nii``.

pydicom's ``CT_small.dcm`` and ``MR_small.dcm`` (and matplotlib's
``s1045.ima.gz``) are kept out (:data:`HELD_OUT_SLICES`): they are the
real-slice test of ``tools/experiments/vldun_real_slices.py``, and the
dataset refuses them.

Each sample is a crop of a random slice of a random source: a square of side
``uniform(crop_scale) · min(H, W)`` at a random place, resized to
``img_size`` (area interpolation when shrinking, bilinear when growing), so
one source is seen at several scales. CT is windowed (40, 400) HU and MR
percentile scaled per volume, as :func:`packaged_sample_slices` and the
volume datasets normalise them.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.dataset import BaseDataset

from dunseg.registry import DATASETS

from .intensity import normalise_volume
from .readers import load_nifti, read_dicom_image

#: name -> (package, file, modality); see the module docstring.
PACKAGED_SLICE_SOURCES: Dict[str, Tuple[str, str, str]] = dict(
    ct_693_j2ki=('pydicom', '693_J2KI.dcm', 'CT'),
    ct_j2k_pixelrep=('pydicom', 'J2K_pixelrep_mismatch.dcm', 'CT'),
    mr_overlay=('pydicom', 'examples_overlay.dcm', 'MRI'),
    mr_anatomical=('nibabel', 'anatomical.nii', 'MRI'),
)
#: Files of the real-slice test, never training crops.
HELD_OUT_SLICES = ('CT_small.dcm', 'MR_small.dcm', 's1045.ima.gz')


def packaged_file(package: str, file: str) -> str:
    """Path of a test file that ``package`` ships (no download)."""
    if package == 'pydicom':
        from pydicom.data import get_testdata_file
        path = get_testdata_file(file, download=False)
    elif package == 'nibabel':
        import nibabel
        path = osp.join(osp.dirname(nibabel.__file__), 'tests', 'data', file)
    else:
        raise ValueError(f'packaged_file: unknown package {package!r} '
                         "(expected 'pydicom' or 'nibabel')")
    if path is None or not osp.isfile(str(path)):
        raise FileNotFoundError(
            f'{package} does not ship {file} in this installation; drop '
            'it from the sources or reinstall the package')
    return str(path)


def load_packaged_slices(name: str,
                         min_mean: float = 0.05) -> Tuple[np.ndarray, str,
                                                          str]:
    """(slices (Z, H, W) float32 in [0, 1], modality, path) of source
    ``name``; volume slices whose mean is below ``min_mean`` (mostly
    background) are dropped."""
    if name not in PACKAGED_SLICE_SOURCES:
        raise KeyError(f'unknown packaged slice source {name!r}; known: '
                       f'{sorted(PACKAGED_SLICE_SOURCES)}')
    package, file, modality = PACKAGED_SLICE_SOURCES[name]
    path = packaged_file(package, file)
    if file.endswith('.nii'):
        volume = load_nifti(path)
    else:
        volume = read_dicom_image(path)[0]
    volume = normalise_volume(volume, modality, path)
    keep = volume.reshape(len(volume), -1).mean(1) >= min_mean
    if not keep.any():
        raise ValueError(f'{path!r}: no slice has a mean of {min_mean} or '
                         'more after normalisation; lower min_mean')
    return np.ascontiguousarray(volume[keep]), modality, path


def random_square_crop(image: np.ndarray, size: Tuple[int, int],
                       scale: Tuple[float, float],
                       rng: np.random.Generator) -> np.ndarray:
    """A square crop of side ``uniform(scale) · min(H, W)`` resized to
    ``size`` (H, W)."""
    h, w = image.shape
    side = int(round(rng.uniform(*scale) * min(h, w)))
    side = int(np.clip(side, 2, min(h, w)))
    top = int(rng.integers(0, h - side + 1))
    left = int(rng.integers(0, w - side + 1))
    crop = image[top:top + side, left:left + side]
    interpolation = cv2.INTER_AREA if side > min(size) else cv2.INTER_LINEAR
    out = cv2.resize(crop, (size[1], size[0]), interpolation=interpolation)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


@DATASETS.register_module()
class PackagedRealSliceDataset(BaseDataset):
    """Multi-scale crops of the real slices in :data:`PACKAGED_SLICE_SOURCES`
    (module docstring), for restoration (and prior) training.

    Results given to the pipeline: ``gt_img`` (float32 (H, W) in [0, 1]),
    ``modality``, ``dataset_name`` (``dataset_names[modality]``),
    ``seg_labelled=False``, ``num_classes`` / ``classes`` (those of the
    labelled data it is mixed with, for the packer and the metric),
    ``img_id``, ``img_path``, ``img_shape``, ``ori_shape``; no
    ``gt_seg_map``.

    Args:
        num_samples (int): Length (crops per epoch).
        img_size (int | tuple[int, int]): (H, W) of the crops.
        sources (Sequence[str]): Names of :data:`PACKAGED_SLICE_SOURCES`.
        crop_scale (tuple[float, float]): Crop side as a fraction of the
            slice's shorter side.
        seed (int, optional): None = a new crop every time (training,
            NumPy's global state, seeded by MMEngine); an int = a fixed crop
            per index.
        classes (Sequence[str]): Label classes of the mixed-in labelled
            data (the phantoms' by default).
        dataset_names (dict, optional): Modality -> dataset name.
        pipeline (Sequence): Transforms, built with dunseg's registry.
    """

    def __init__(self,
                 num_samples: int = 500,
                 img_size=(64, 64),
                 sources: Sequence[str] = tuple(PACKAGED_SLICE_SOURCES),
                 crop_scale: Tuple[float, float] = (0.25, 1.0),
                 seed: Optional[int] = None,
                 classes: Optional[Sequence[str]] = None,
                 dataset_names: Optional[Dict[str, str]] = None,
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        from ..istd import build_pipeline_with_dunseg_registry
        from ..synthetic_phantom import SyntheticPhantomDataset
        name = type(self).__name__
        if not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError(f'{name}: num_samples must be a positive int, '
                             f'got {num_samples!r}')
        if isinstance(img_size, int):
            img_size = (img_size, img_size)
        if len(img_size) != 2 or min(img_size) < 8:
            raise ValueError(f'{name}: img_size must be (H, W) >= 8, got '
                             f'{img_size!r}')
        lo, hi = (float(v) for v in crop_scale)
        if not 0 < lo <= hi <= 1:
            raise ValueError(f'{name}: crop_scale must be (low, high) with '
                             f'0 < low <= high <= 1, got {crop_scale!r}')
        sources = tuple(sources)
        if not sources:
            raise ValueError(f'{name}: sources must not be empty')
        for source in sources:
            if source not in PACKAGED_SLICE_SOURCES:
                held = source in HELD_OUT_SLICES or any(
                    source in held for held in HELD_OUT_SLICES)
                raise KeyError(
                    f'{name}: unknown source {source!r}' +
                    (' (a held-out test slice, never a training crop)'
                     if held else '') +
                    f'; known: {sorted(PACKAGED_SLICE_SOURCES)}')
        phantom_meta = SyntheticPhantomDataset.METAINFO
        self.classes = tuple(classes or phantom_meta['classes'])
        # ConcatDataset needs the metainfo of the labelled data it joins
        kwargs.setdefault('metainfo', dict(phantom_meta,
                                           classes=self.classes))
        self.num_samples = num_samples
        self.img_size = (int(img_size[0]), int(img_size[1]))
        self.sources = sources
        self.crop_scale = (lo, hi)
        self.seed = seed
        self.dataset_names = dict(dict(CT='RealCT', MRI='RealMRI'),
                                  **(dataset_names or {}))
        self.slices = {}
        for source in sources:
            self.slices[source] = load_packaged_slices(source)
        super().__init__(
            pipeline=build_pipeline_with_dunseg_registry(pipeline), **kwargs)

    def load_data_list(self) -> List[dict]:
        return [dict(crop_index=i) for i in range(self.num_samples)]

    def crop(self, index: int) -> dict:
        """A crop (module docstring); deterministic when ``seed`` is set."""
        rng = (np.random.default_rng(np.random.randint(0, 2**31 - 1))
               if self.seed is None else
               np.random.default_rng([int(self.seed), int(index)]))
        source = self.sources[int(rng.integers(len(self.sources)))]
        volume, modality, path = self.slices[source]
        k = int(rng.integers(len(volume)))
        image = random_square_crop(volume[k], self.img_size, self.crop_scale,
                                   rng)
        return dict(gt_img=image, modality=modality, img_path=path,
                    slice_index=k, source=source,
                    dataset_name=self.dataset_names[modality])

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        info.update(self.crop(info['crop_index']))
        info.update(img_id=f'packaged/{info["source"]}/{idx}',
                    seg_map_path=None, seg_labelled=False,
                    num_classes=len(self.classes), classes=self.classes,
                    img_shape=self.img_size, ori_shape=self.img_size)
        return info


__all__ = [
    'PackagedRealSliceDataset', 'PACKAGED_SLICE_SOURCES', 'HELD_OUT_SLICES',
    'load_packaged_slices', 'packaged_file', 'random_square_crop'
]
