"""Medical segmentation datasets of VL-DUN, read as 2-D slices.

VL-DUN (arXiv 2601.23103) evaluates joint restoration and segmentation on
four datasets (taken from IMIS-bench): ACDC (cine-MRI, 4 classes), BraTS2021
(T1, tumour), COVID-19-CT (lung infection) and HCC-TACE-Seg (liver tumour,
CT). Each class below reads one public layout; a generic 2-D layout
(:class:`MedicalSliceFolderDataset`) reads slices exported as image and mask
files, as IMIS-bench-style benchmarks ship them.

Volumes are cut into 2-D slices along one axis. At construction only an
index of (volume, slice) pairs is built (from the NIfTI / DICOM headers; the
label volumes too when ``foreground_only=True``); volumes are read when a
slice is asked for, and the last ``cache_size`` volumes stay in memory (per
dataloader worker), so sequential access costs one read per volume.

Intensities are normalised per volume to [0, 1]:

- CT: a window ``(centre, width)`` in Hounsfield units (:func:`window_ct`);
  volumes that are not in HU (no voxel below -200, e.g. the radiopaedia
  cases of COVID-19-CT-Seg, stored as 0-255) fall back to percentile
  scaling, with a warning naming the file;
- MRI: percentile scaling (:func:`scale_mri`, 0.5-99.5 % by default,
  over the non-zero voxels for skull-stripped data such as BraTS).

Every sample given to the pipeline has ``gt_img`` (float32 (H, W)),
``gt_seg_map`` (uint8 (H, W), class indices), ``modality``,
``dataset_name``, ``num_classes``, ``classes``, ``img_id``
(``<dataset>/<case>/<slice>``, stable: it seeds test-split k-space masks),
``img_path`` / ``seg_map_path`` (the volume files), ``slice_index``,
``case_id``, ``img_shape`` and ``ori_shape``.

NIfTI slices are ``rot90`` of the voxel array's first two axes, so
RAS-stored volumes show anterior up; image and label are turned alike.
"""
from .base import DATA_SOURCES, MedicalVolumeDataset
from .intensity import normalise_volume, scale_mri, window_ct
from .packaged import (
                       HELD_OUT_SLICES,
                       PACKAGED_SLICE_SOURCES,
                       PackagedRealSliceDataset,
                       load_packaged_slices,
                       packaged_file,
                       random_square_crop,
)
from .readers import (
                      DICOM_MODALITIES,
                      DICOM_SUFFIXES,
                      NIFTI_SUFFIXES,
                      load_dicom_seg,
                      load_dicom_series,
                      load_nifti,
                      nifti_shape,
                      packaged_sample_slices,
                      read_dicom_headers,
                      read_dicom_image,
                      read_medical_slice,
)
from .slice_folder import SLICE_SUFFIXES, MedicalSliceFolderDataset
from .volumes import (
                      ACDCDataset,
                      BraTS2021Dataset,
                      COVID19CTDataset,
                      HCCTACESegDataset,
)

__all__ = [
    'MedicalVolumeDataset', 'ACDCDataset', 'BraTS2021Dataset',
    'COVID19CTDataset', 'HCCTACESegDataset', 'MedicalSliceFolderDataset',
    'window_ct', 'scale_mri', 'normalise_volume', 'load_nifti',
    'nifti_shape', 'read_dicom_headers', 'load_dicom_series',
    'load_dicom_seg', 'packaged_sample_slices', 'read_dicom_image',
    'read_medical_slice', 'DATA_SOURCES', 'NIFTI_SUFFIXES', 'SLICE_SUFFIXES',
    'DICOM_SUFFIXES', 'DICOM_MODALITIES', 'PackagedRealSliceDataset',
    'PACKAGED_SLICE_SOURCES', 'HELD_OUT_SLICES', 'load_packaged_slices',
    'packaged_file', 'random_square_crop'
]
