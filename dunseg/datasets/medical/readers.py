"""Medical image files: NIfTI volumes, DICOM series and DICOM SEG label
volumes, single DICOM images, and one slice of any of these (or of a PNG /
TIFF / ``.npy`` file) for inference."""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from dunseg.physics.undersampling import check_modality
from dunseg.utils.finite import check_finite_image

from .intensity import normalise_volume, scale_mri

NIFTI_SUFFIXES = ('.nii.gz', '.nii')
#: File endings :func:`read_medical_slice` reads as volumes or DICOM.
DICOM_SUFFIXES = ('.dcm', '.dicom', '.ima')
#: DICOM ``Modality`` tag -> dunseg modality.
DICOM_MODALITIES = dict(CT='CT', MR='MRI')


def _require(module: str):
    try:
        return __import__(module)
    except ImportError as err:
        raise ImportError(
            f'reading medical volumes needs {module}; install it with '
            '`pip install -r requirements/medical.txt`') from err


def nifti_shape(path: str) -> Tuple[int, ...]:
    """Shape of a NIfTI volume, from its header only."""
    nib = _require('nibabel')
    try:
        return tuple(int(s) for s in nib.load(path).shape)
    except FileNotFoundError:
        raise
    except Exception as err:
        raise IOError(f'cannot read the NIfTI header of {path!r} '
                      f'({type(err).__name__}: {err}); re-copy or re-export '
                      'the file') from err


def load_nifti(path: str) -> np.ndarray:
    """A NIfTI volume as (Z, H, W) slices along its third axis (each slice
    ``rot90`` of the voxel array), float32 after scaling (scl_slope /
    scl_inter applied)."""
    nib = _require('nibabel')
    if not osp.isfile(path):
        raise FileNotFoundError(f'NIfTI file not found: {path!r}')
    try:
        data = np.asarray(nib.load(path).get_fdata(dtype=np.float32))
    except Exception as err:
        raise IOError(f'cannot read NIfTI volume {path!r} '
                      f'({type(err).__name__}: {err})') from err
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim == 2:
        data = data[..., None]
    if data.ndim != 3:
        raise ValueError(f'{path!r} has shape {data.shape}; expected a 3-D '
                         'volume (a 4-D cine sequence must be split into '
                         'frames, as ACDC ships them)')
    return np.ascontiguousarray(np.rot90(data, k=1, axes=(0, 1)).transpose(
        2, 0, 1))


def _dicom_files(root: str) -> List[str]:
    files = []
    for dirpath, _, names in os.walk(root):
        files.extend(osp.join(dirpath, n) for n in names
                     if not n.startswith('.'))
    return sorted(files)


def read_dicom_headers(root: str) -> List[Tuple[str, object]]:
    """``(path, dataset without pixels)`` of every DICOM file under
    ``root`` (other files are skipped)."""
    pydicom = _require('pydicom')
    out = []
    for path in _dicom_files(root):
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except (pydicom.errors.InvalidDicomError, OSError):
            continue
        out.append((path, ds))
    return out


def _z_position(ds) -> float:
    position = getattr(ds, 'ImagePositionPatient', None)
    if position is not None:
        return float(position[2])
    return float(getattr(ds, 'InstanceNumber', 0))


def load_dicom_series(paths: Sequence[str]) -> np.ndarray:
    """CT slices (already sorted) as a (Z, H, W) float32 volume in HU
    (``pixel · RescaleSlope + RescaleIntercept``)."""
    pydicom = _require('pydicom')
    slices = []
    for path in paths:
        ds = pydicom.dcmread(path)
        pixels = ds.pixel_array.astype(np.float32)
        slope = float(getattr(ds, 'RescaleSlope', 1.0))
        intercept = float(getattr(ds, 'RescaleIntercept', 0.0))
        slices.append(pixels * slope + intercept)
    shapes = {s.shape for s in slices}
    if len(shapes) != 1:
        raise ValueError(f'DICOM series {osp.dirname(paths[0])!r} mixes '
                         f'slice sizes {sorted(shapes)}')
    return np.stack(slices)


def load_dicom_seg(path: str, series_uids: Sequence[str],
                   series_z: Sequence[float],
                   segment_classes: Dict[int, int]) -> np.ndarray:
    """Rasterise a DICOM SEG onto its CT series as a (Z, H, W) uint8 label
    volume.

    Each frame's segment (``SegmentIdentificationSequence``) is mapped to a
    class by ``segment_classes`` (segment number -> class; later classes
    win where segments overlap) and placed on the CT slice it was derived
    from (``DerivationImageSequence`` SOP instance UID), or, without that
    reference, on the slice with the nearest z position
    (``PlanePositionSequence``). FRACTIONAL segmentations are thresholded
    at half their ``MaximumFractionalValue``.
    """
    pydicom = _require('pydicom')
    ds = pydicom.dcmread(path)
    frames = np.asarray(ds.pixel_array)
    if frames.ndim == 2:
        frames = frames[None]
    per_frame = ds.PerFrameFunctionalGroupsSequence
    if len(per_frame) != frames.shape[0]:
        raise ValueError(f'DICOM SEG {path!r}: {frames.shape[0]} frames but '
                         f'{len(per_frame)} per-frame functional groups')
    labels = np.zeros((len(series_uids), ) + frames.shape[1:], np.uint8)
    # FRACTIONAL segmentations store a probability or occupancy per pixel
    # (0 .. MaximumFractionalValue): a pixel belongs when it is over half
    threshold = 0.0
    kind = str(getattr(ds, 'SegmentationType', 'BINARY')).upper()
    if kind == 'FRACTIONAL':
        threshold = float(getattr(ds, 'MaximumFractionalValue', 255)) / 2
    index_of_uid = {uid: i for i, uid in enumerate(series_uids)}
    z = np.asarray(series_z, np.float64)
    order = sorted(range(len(per_frame)),
                   key=lambda i: segment_classes.get(
                       int(per_frame[i].SegmentIdentificationSequence[0].
                           ReferencedSegmentNumber), 0))
    for i in order:
        group = per_frame[i]
        number = int(
            group.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        cls = segment_classes.get(number, 0)
        if cls == 0:
            continue
        target = None
        try:
            uid = (group.DerivationImageSequence[0].SourceImageSequence[0].
                   ReferencedSOPInstanceUID)
            target = index_of_uid.get(str(uid))
        except (AttributeError, IndexError):
            pass
        if target is None:
            frame_z = float(
                group.PlanePositionSequence[0].ImagePositionPatient[2])
            target = int(np.argmin(np.abs(z - frame_z)))
            if len(z) > 1:
                spacing = float(np.median(np.abs(np.diff(np.sort(z)))))
                if abs(z[target] - frame_z) > max(spacing, 1e-3) / 2 + 1e-3:
                    raise ValueError(
                        f'DICOM SEG {path!r}: frame {i} at z={frame_z:g} '
                        'matches no slice of the referenced CT series '
                        f'(nearest z={z[target]:g})')
        if frames.shape[1:] != labels.shape[1:]:
            raise ValueError(f'DICOM SEG {path!r}: frames are '
                             f'{frames.shape[1:]} but the CT slices '
                             f'{labels.shape[1:]}')
        labels[target][frames[i] > threshold] = cls
    return labels


def has_suffix(name: str, suffixes: Sequence[str]) -> bool:
    """True if the file ``name`` ends with one of the (lower-case)
    ``suffixes``, in any letter case (``c.PNG``, ``x.NII.GZ``)."""
    return name.lower().endswith(tuple(suffixes))


def _strip_nifti(name: str) -> str:
    for suffix in NIFTI_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[:-len(suffix)]
    return name


def _find_nifti(stem_path: str) -> Optional[str]:
    """``stem_path`` + a NIfTI ending that exists, ``.nii.gz`` before
    ``.nii``; the ending in any letter case (the stem as given)."""
    for suffix in NIFTI_SUFFIXES:
        if osp.isfile(stem_path + suffix):
            return stem_path + suffix
    folder, stem = osp.split(stem_path)
    try:
        names = sorted(os.listdir(folder or '.'))
    except OSError:
        return None
    for suffix in NIFTI_SUFFIXES:
        for name in names:
            if (len(name) == len(stem) + len(suffix)
                    and name.startswith(stem)
                    and name[len(stem):].lower() == suffix
                    and osp.isfile(osp.join(folder, name))):
                return osp.join(folder, name)
    return None


def read_dicom_image(path: str) -> Tuple[np.ndarray, Optional[str]]:
    """One DICOM file as float32 ``(Z, H, W)`` physical values (HU for CT:
    ``pixel · RescaleSlope + RescaleIntercept``) and its modality
    (``'CT'`` / ``'MRI'`` from the ``Modality`` tag, None for others)."""
    pydicom = _require('pydicom')
    if not osp.isfile(path):
        raise FileNotFoundError(f'DICOM file not found: {path!r}')
    try:
        ds = pydicom.dcmread(path)
        pixels = np.asarray(ds.pixel_array, np.float32)
    except Exception as err:
        raise IOError(f'cannot read DICOM image {path!r} '
                      f'({type(err).__name__}: {err})') from err
    slope = float(getattr(ds, 'RescaleSlope', 1.0))
    intercept = float(getattr(ds, 'RescaleIntercept', 0.0))
    pixels = pixels * np.float32(slope) + np.float32(intercept)
    if pixels.ndim == 3 and pixels.shape[-1] in (3, 4) and \
            getattr(ds, 'SamplesPerPixel', 1) > 1:
        pixels = pixels[..., :3].mean(-1)  # colour secondary capture
    if pixels.ndim == 2:
        pixels = pixels[None]
    return pixels, DICOM_MODALITIES.get(str(getattr(ds, 'Modality', '')))


def _normalise_unknown(volume: np.ndarray, modality: Optional[str],
                       source: str, ct_window, mri_percentiles) -> np.ndarray:
    """Values already in [0, 1] are kept; others get the modality's
    normalisation; with no modality, a volume that looks like HU (values
    below -200, 99th percentile below 3000) is CT-windowed, anything else
    percentile scaled."""
    check_finite_image(volume, source, 'slice')
    if volume.size and volume.min() >= 0.0 and volume.max() <= 1.0:
        return volume.astype(np.float32)
    if modality is None:
        looks_hu = volume.size and volume.min() <= -200 and \
            np.percentile(volume, 99) < 3000
        modality = 'CT' if looks_hu else 'MRI'
    return normalise_volume(volume, modality, source, ct_window,
                            mri_percentiles)


def _luminance(img: np.ndarray) -> np.ndarray:
    """OpenCV BGR(A) -> grey, keeping the dtype."""
    import cv2
    code = cv2.COLOR_BGRA2GRAY if img.shape[2] == 4 else cv2.COLOR_BGR2GRAY
    return cv2.cvtColor(img, code)


def read_medical_slice(path: str,
                       slice_index: Optional[int] = None,
                       modality: Optional[str] = None,
                       ct_window: Tuple[float, float] = (40.0, 400.0),
                       mri_percentiles: Tuple[float, float] = (0.5, 99.5)
                       ) -> dict:
    """One grey slice of an image, array, DICOM or NIfTI file, in [0, 1].

    - PNG / TIFF / BMP / JPEG: 8/16-bit values are divided by 255 / 65535
      (as :class:`MedicalSliceFolderDataset` reads them); colour files are
      converted to luminance; float TIFFs as ``.npy``;
    - ``.npy``: a 2-D slice or a 3-D ``(Z, H, W)`` stack;
    - DICOM (``.dcm``, ``.dicom``, ``.ima``): rescaled to physical values,
      the modality read from the ``Modality`` tag;
    - NIfTI (``.nii``, ``.nii.gz``): slices along the third axis, turned as
      the volume datasets turn them (:func:`load_nifti`).

    Physical values (HU, MR intensities) are normalised per volume as the
    datasets do (:func:`normalise_volume`: CT window, MRI percentiles);
    with no ``modality`` (none given, none in the file) a volume with
    values below -200 and a 99th percentile below 3000 counts as HU.
    Values already in [0, 1] are kept.

    Args:
        path (str): The file.
        slice_index (int, optional): Slice of a volume; None = the middle.
        modality (str, optional): ``'CT'`` / ``'MRI'``; overrides the file.

    Returns:
        dict: ``img`` (float32 (H, W) in [0, 1]), ``modality`` (or None),
        ``slice_index``, ``num_slices``.
    """
    if modality is not None:
        modality = check_modality(modality, 'read_medical_slice')
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'image file not found: {path!r}; check the path (relative paths '
            f'start from the current directory, {os.getcwd()})')
    lower = path.lower()
    if lower.endswith(NIFTI_SUFFIXES):
        volume, file_modality = load_nifti(path), None
    elif lower.endswith(DICOM_SUFFIXES):
        volume, file_modality = read_dicom_image(path)
    elif lower.endswith('.npy'):
        volume, file_modality = np.load(path).astype(np.float32), None
        if volume.ndim == 2:
            volume = volume[None]
        if volume.ndim != 3:
            raise ValueError(f'{path!r} holds an array of shape '
                             f'{volume.shape}; expected (H, W) or (Z, H, W)')
    else:
        from ..transforms.loading import (
            decode_image_unchanged,
            unit_float_reported_once,
        )
        img = decode_image_unchanged(path, what='slice')
        if img.ndim == 3 and img.shape[2] in (3, 4):
            img = _luminance(img)
        elif img.ndim == 3:
            img = img[..., 0]
        if img.dtype in (np.uint8, np.uint16):
            img = unit_float_reported_once(img, path, 'read_medical_slice')
        volume, file_modality = img.astype(np.float32)[None], None
    num = volume.shape[0]
    k = num // 2 if slice_index is None else int(slice_index)
    if not -num <= k < num:
        raise ValueError(f'{path!r} has {num} slice(s); slice_index {k} is '
                         'out of range')
    k %= num
    modality = modality or file_modality
    volume = _normalise_unknown(volume, modality, path, ct_window,
                                mri_percentiles)
    return dict(img=np.ascontiguousarray(volume[k]), modality=modality,
                slice_index=k, num_slices=num)


def packaged_sample_slices() -> Dict[str, dict]:
    """Real CT/MR slices that installed packages ship, normalised.

    Returns ``{name: dict(image=float32 (H, W) in [0, 1], modality,
    source)}`` for

    - ``'ct_small'``: pydicom's ``CT_small.dcm`` (128x128, HU, window
      (40, 400));
    - ``'mr_small'``: pydicom's ``MR_small.dcm`` (64x64);
    - ``'anatomical'``: the middle axial slice of nibabel's
      ``tests/data/anatomical.nii``;
    - ``'s1045'``: matplotlib's sample MRI slice ``s1045.ima.gz``
      (256x256, 16-bit).

    MR slices are percentile scaled (0.5-99.5 %). Raises ImportError
    naming the package when one is missing.
    """
    _require('pydicom')
    from pydicom.data import get_testdata_file
    out = {}
    for name, file, modality in (('ct_small', 'CT_small.dcm', 'CT'),
                                 ('mr_small', 'MR_small.dcm', 'MRI')):
        path = get_testdata_file(file)
        if path is None:
            raise FileNotFoundError(f'pydicom does not ship {file} here')
        pixels = read_dicom_image(path)[0][0]
        out[name] = dict(image=normalise_volume(pixels, modality, path),
                         modality=modality, source=path)
    nib = _require('nibabel')
    path = osp.join(osp.dirname(nib.__file__), 'tests', 'data',
                    'anatomical.nii')
    volume = load_nifti(path)
    out['anatomical'] = dict(image=scale_mri(volume[len(volume) // 2]),
                             modality='MRI', source=path)
    import matplotlib.cbook as cbook
    with cbook.get_sample_data('s1045.ima.gz') as f:
        raw = np.frombuffer(f.read(), np.uint16).reshape(256, 256)
    out['s1045'] = dict(image=scale_mri(raw.astype(np.float32)),
                        modality='MRI',
                        source='matplotlib sample_data/s1045.ima.gz')
    return out

