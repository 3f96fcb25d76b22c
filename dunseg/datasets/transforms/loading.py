"""Loading transforms for infrared small-target (ISTD) images and masks.

Both transforms decode with OpenCV's ``IMREAD_UNCHANGED`` so that the bit
depth of the file survives decoding (mmcv's ``LoadImageFromFile`` with
``color_type='grayscale'`` silently reduces 16-bit infrared frames to 8 bit).
The results contract they establish is relied on by every later transform,
the model's data preprocessor and the metrics:

- ``img``: ``np.float32`` array of shape (H, W, C) with values in [0, 1]
  (C = 1 for grey images; the channel axis is always present).
- ``img_shape`` / ``ori_shape``: ``(H, W)`` of the decoded image.
- ``gt_seg_map``: ``np.uint8`` array of shape (H, W) with values in {0, 1}.
"""
import logging
from typing import Optional, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine import fileio
from mmengine.logging import print_log

from dunseg.registry import TRANSFORMS
from dunseg.utils.finite import check_finite_image

COLOR_TYPES = ('grayscale', 'color', 'unchanged')

# A 16-bit image whose maximum is below this (1/16 of the 16-bit range)
# most likely holds data of 12 bits or fewer; divided by 65535 it stays
# below 0.0625 and a model trained on full-range images sees a black frame.
LOW_BIT_DEPTH_MAX = 4096


def check_bit_depth(bit_depth: Optional[int], who: str) -> Optional[int]:
    """Validate a ``bit_depth`` option: None or an int in [1, 16]."""
    if bit_depth is None:
        return None
    if isinstance(bit_depth, bool) or not isinstance(
            bit_depth, (int, np.integer)) or not 1 <= bit_depth <= 16:
        raise ValueError(f'{who}: bit_depth must be None (the full range of '
                         "the file's dtype) or an integer from 1 to 16 (e.g. "
                         f'12 divides by 4095), got {bit_depth!r}')
    return int(bit_depth)


_LOW_RANGE_REPORTED = set()

#: advice for loaders that have no bit-depth option
FULL_RANGE_FIX = ('If the data has fewer bits (e.g. 12-bit values in a 16-bit '
                  'PNG), rescale the files to the full 16-bit range (or save '
                  'them as float .npy in [0, 1]) before loading them.')


def unit_float_reported_once(img: np.ndarray, path: str, loader: str,
                             fix: Optional[str] = FULL_RANGE_FIX
                             ) -> np.ndarray:
    """Integer image -> float32 in [0, 1] by the dtype's maximum, with the
    low-range WARNING of :func:`integer_to_unit_float` for the first such
    file of each ``loader`` in the process."""
    warn = low_range_16bit(img) and loader not in _LOW_RANGE_REPORTED
    if warn:
        _LOW_RANGE_REPORTED.add(loader)
    return integer_to_unit_float(img, path, warn=warn, fix=fix)


def low_range_16bit(img: np.ndarray) -> bool:
    """A 16-bit image using under 1/16 of its range (maximum < 4096)."""
    return bool(img.dtype == np.uint16 and img.size
                and int(img.max()) < LOW_BIT_DEPTH_MAX)


def integer_to_unit_float(img: np.ndarray, path: str,
                          bit_depth: Optional[int] = None,
                          warn: bool = True,
                          fix: Optional[str] = None) -> np.ndarray:
    """Integer image -> float32 in [0, 1] by its bit depth.

    ``bit_depth=None`` divides by the maximum of the dtype (255 for 8-bit,
    65535 for 16-bit files). Then, when ``warn`` is True and a 16-bit image
    uses under 1/16 of its range (maximum < 4096, e.g. 12-bit sensor data
    stored in a 16-bit PNG), a WARNING names the file and the option to set.
    ``bit_depth=b`` divides by ``2**b - 1``; a file with values above that,
    or with fewer bits than ``b``, is an error (the wrong bit depth).
    ``fix`` replaces the warning's advice for loaders without the option.
    """
    bits = np.iinfo(img.dtype).bits
    if bit_depth is None:
        if warn and low_range_16bit(img):
            top = int(img.max())
            need = max(top.bit_length(), 1)
            print_log(
                f'image {path!r} is 16-bit but its maximum is {top} (under '
                f'1/16 of the 16-bit range): divided by 65535 it reaches at '
                f'most {top / 65535:.4f}, so a model trained on full-range '
                'images may see an almost black frame. ' + (fix or (
                    'If the sensor has fewer bits (e.g. 12-bit data in a '
                    '16-bit PNG), set the image loader\'s bit_depth (e.g. '
                    f'bit_depth={max(need, 12)}, or scale='
                    f'{2 ** max(need, 12) - 1}; demo/image_demo.py '
                    '--bit-depth) so the data is divided by 2**bit_depth - '
                    '1')) + ' (reported for the first such file of each '
                'loader only).',
                logger='current', level=logging.WARNING)
        return img.astype(np.float32) / np.float32(np.iinfo(img.dtype).max)
    if bit_depth > bits:
        raise ValueError(
            f'image {path!r} is {bits}-bit ({img.dtype}) but bit_depth='
            f'{bit_depth} was given; set bit_depth to at most {bits} (or '
            'None for the full range of the file\'s dtype)')
    top = (1 << bit_depth) - 1
    if img.size and int(img.max()) > top:
        raise ValueError(
            f'image {path!r} has values up to {int(img.max())}, above '
            f'{top} = 2**{bit_depth} - 1: it has more than {bit_depth} bits. '
            'Set bit_depth to the bit depth of the data (or None for the '
            'full range of the file\'s dtype)')
    return img.astype(np.float32) / np.float32(top)


def _read_bytes(path: str, backend_args: Optional[dict], what: str) -> bytes:
    """Read a file through mmengine's file backends with a helpful error."""
    try:
        content = fileio.get(path, backend_args=backend_args)
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f'{what} file not found: {path!r}. Check that data_root and the '
            'dataset layout are right and that the file was not moved or '
            'deleted after the split lists were written.') from err
    return content


def decode_image_unchanged(path: str,
                           backend_args: Optional[dict] = None,
                           what: str = 'image') -> np.ndarray:
    """Decode ``path`` with its original bit depth and channel count.

    Args:
        path (str): Path (or URI understood by mmengine's file backends).
        backend_args (dict, optional): Arguments of the file backend.
        what (str): Used in error messages ("image", "mask").

    Returns:
        np.ndarray: (H, W) or (H, W, C) array in OpenCV channel order
        (BGR / BGRA) and the file's dtype.

    Raises:
        FileNotFoundError: The file does not exist.
        IOError: The file is empty, truncated or not an image.
    """
    content = _read_bytes(path, backend_args, what)
    if len(content) == 0:
        raise IOError(f'{what} file is empty (0 bytes): {path!r}. Re-copy or '
                      're-export the file; an interrupted download or copy '
                      'usually leaves empty files behind.')
    try:
        decoded = cv2.imdecode(
            np.frombuffer(content, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as err:
        raise IOError(f'OpenCV failed to decode {what} file {path!r}: '
                      f'{err}. Check that it is a valid PNG/BMP/TIFF/JPEG '
                      'file.') from err
    if decoded is None:
        raise IOError(
            f'could not decode {what} file {path!r} ({len(content)} bytes): '
            'the file is corrupt, truncated or not in an image format '
            'OpenCV can read. Check the file (e.g. open it in an image '
            'viewer) and re-export or re-download it.')
    return decoded


@TRANSFORMS.register_module()
class LoadISTDImageFromFile(BaseTransform):
    """Load an infrared image as float32 in [0, 1] with a channel axis.

    Registered under a dunseg-specific name so that mmcv's
    ``LoadImageFromFile`` (uint8 output, no 16-bit support) stays usable.

    Required keys: ``img_path``.

    Added keys: ``img`` (float32, (H, W, C), [0, 1]), ``img_shape`` and
    ``ori_shape`` (both ``(H, W)``).

    Bit depth: integer images are divided by ``scale``; by default that is the
    maximum of the file's dtype (255 for 8-bit, 65535 for 16-bit), which keeps
    the physical intensity ratios of 16-bit sensor data. Sensors with a
    smaller effective depth (e.g. 12 bit stored in 16-bit PNGs) set
    ``bit_depth=12`` (divide by ``2**12 - 1 = 4095``; a file with larger
    values is an error) or, equivalently but clipping instead of failing,
    ``scale=4095``. Without either, a 16-bit file whose maximum is below
    4096 (under 1/16 of the range) is loaded as today but logged as a
    WARNING naming the file (once per loader: further such files are not
    reported again). Floating-point files (e.g. TIFF) must already be in
    [0, 1] unless ``scale`` is given.

    Channels: OpenCV decodes colour files as BGR(A); they are returned as
    RGB(A). ``'grayscale'`` converts colour files to one luminance channel,
    ``'color'`` returns three RGB channels (grey files are replicated) and
    ``'unchanged'`` keeps the file's channel count.

    Args:
        color_type (str): ``'grayscale'`` (default, the official ISTD
            recipe), ``'color'`` or ``'unchanged'``.
        scale (str | float): ``'dtype_max'`` (default) or the number integer
            intensities are divided by.
        backend_args (dict, optional): Arguments of mmengine's file backend.
        bit_depth (int, optional): Bit depth of integer data: divide by
            ``2**bit_depth - 1``. None (default) = the full range of the
            file's dtype (``scale``). Not together with a numeric ``scale``.
    """

    def __init__(self,
                 color_type: str = 'grayscale',
                 scale: Union[str, float] = 'dtype_max',
                 backend_args: Optional[dict] = None,
                 bit_depth: Optional[int] = None) -> None:
        if color_type not in COLOR_TYPES:
            raise ValueError(f'LoadISTDImageFromFile: color_type must be one '
                             f'of {COLOR_TYPES}, got {color_type!r}')
        if not (scale == 'dtype_max' or
                (isinstance(scale, (int, float)) and scale > 0)):
            raise ValueError(
                "LoadISTDImageFromFile: scale must be 'dtype_max' or a "
                f'positive number (e.g. 255, 65535), got {scale!r}')
        bit_depth = check_bit_depth(bit_depth, type(self).__name__)
        if bit_depth is not None and scale != 'dtype_max':
            raise ValueError(
                f'{type(self).__name__}: give bit_depth or scale, not both '
                f'(bit_depth={bit_depth} means scale={2 ** bit_depth - 1})')
        self.color_type = color_type
        self.scale = scale
        self.backend_args = backend_args
        self.bit_depth = bit_depth
        self._warned_low_range = False

    def _to_unit_float(self, img: np.ndarray, path: str) -> np.ndarray:
        """Convert the decoded array to float32 in [0, 1]."""
        bit_depth = getattr(self, 'bit_depth', None)
        if np.issubdtype(img.dtype, np.integer):
            if self.scale == 'dtype_max':
                warn = not getattr(self, '_warned_low_range', False)
                if warn and bit_depth is None and low_range_16bit(img):
                    self._warned_low_range = True  # once per loader
                return integer_to_unit_float(img, path, bit_depth, warn=warn)
            out = img.astype(np.float32) / np.float32(self.scale)
            # A user-given scale smaller than the data's range would
            # otherwise produce values above 1 that the model never saw.
            np.clip(out, 0.0, 1.0, out=out)
            return out
        if bit_depth is not None:
            raise ValueError(
                f'image {path!r} is floating-point ({img.dtype}); bit_depth='
                f'{bit_depth} applies to integer files only: leave bit_depth '
                'unset and give scale=<max value> if it is not in [0, 1]')
        out = img.astype(np.float32)
        check_finite_image(out, path)
        if self.scale != 'dtype_max':
            return np.clip(out / np.float32(self.scale), 0.0, 1.0)
        lo, hi = float(out.min()), float(out.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f'floating-point image {path!r} has values in [{lo:g}, '
                f'{hi:g}], outside [0, 1]; pass scale=<max value> to '
                'LoadISTDImageFromFile to normalise it')
        return out

    def _convert_channels(self, img: np.ndarray, path: str) -> np.ndarray:
        """Apply ``color_type`` to a float32 (H, W) or (H, W, C) BGR array."""
        channels = 1 if img.ndim == 2 else img.shape[2]
        if channels not in (1, 2, 3, 4):
            raise ValueError(f'image {path!r} has {channels} channels; only '
                             '1 (grey), 2 (grey+alpha), 3 (BGR) and 4 (BGRA) '
                             'files are supported')
        if img.ndim == 3 and channels == 1:
            img = img[..., 0]
        if self.color_type == 'grayscale':
            if channels == 3:
                img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
            elif channels == 4:
                img = cv2.cvtColor(img, cv2.COLOR_BGRA2GRAY)
            elif channels == 2:
                img = img[..., 0]  # drop the alpha channel
            return img[..., None]
        if self.color_type == 'color':
            if channels == 1:
                return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
            if channels == 2:
                return cv2.cvtColor(img[..., 0], cv2.COLOR_GRAY2RGB)
            if channels == 4:
                return cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
            return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        # 'unchanged': keep the channel count, only fix the channel order.
        if channels == 1:
            return img[..., None]
        if channels == 3:
            return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        if channels == 4:
            return cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA)
        return img

    def transform(self, results: dict) -> dict:
        path = results.get('img_path')
        if path is None:
            raise KeyError(
                "LoadISTDImageFromFile needs results['img_path'] (set by the "
                'dataset); synthetic datasets produce results["img"] '
                'directly and must not use this transform')
        img = decode_image_unchanged(
            path, backend_args=self.backend_args, what='image')
        img = self._to_unit_float(img, path)
        img = np.ascontiguousarray(self._convert_channels(img, path))
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(color_type={self.color_type!r}, '
                f'scale={self.scale!r}, backend_args={self.backend_args!r}, '
                f'bit_depth={getattr(self, "bit_depth", None)!r})')


@TRANSFORMS.register_module()
class LoadISTDAnnotations(BaseTransform):
    """Load a target mask and binarise it to {0, 1}.

    Required keys: ``seg_map_path``; ``ori_shape`` (from the image loader)
    for the size check.

    Added keys: ``gt_seg_map`` (uint8, (H, W), {0, 1}); ``'gt_seg_map'`` is
    appended to ``seg_fields`` for mmseg-style transforms.

    Binarisation: a pixel is a target when its value exceeds
    ``threshold * dtype_max``. The default ``threshold=0`` means "> 0". The
    official RPCANet / DNANet code instead divides the mask by its maximum
    (255) and thresholds at 0.5 during evaluation; for masks saved as clean
    0/255 PNGs (all of NUDT-SIRST, IRSTD-1k, SIRST-Aug and NUAA-SIRST) both
    rules give the same mask. Use ``threshold=0.5`` to reproduce the official
    rule on masks with anti-aliased or JPEG-compressed edges. Colour masks are
    reduced with the maximum over the colour channels (alpha is ignored).

    Args:
        threshold (float): Fraction of the dtype maximum a pixel must exceed,
            in [0, 1). Defaults to 0.
        check_shape (bool): Raise when the mask size differs from the image
            size (``results['ori_shape']``). Defaults to True.
        backend_args (dict, optional): Arguments of mmengine's file backend.
    """

    def __init__(self,
                 threshold: float = 0.0,
                 check_shape: bool = True,
                 backend_args: Optional[dict] = None) -> None:
        if not 0.0 <= threshold < 1.0:
            raise ValueError('LoadISTDAnnotations: threshold is a fraction of '
                             f'the dtype maximum in [0, 1), got {threshold}')
        self.threshold = threshold
        self.check_shape = check_shape
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        path = results.get('seg_map_path')
        if path is None:
            raise KeyError(
                "LoadISTDAnnotations needs results['seg_map_path']; the "
                'dataset did not provide a mask path for '
                f'{results.get("img_path")!r}')
        mask = decode_image_unchanged(
            path, backend_args=self.backend_args, what='mask')
        if mask.ndim == 3:
            # Colour masks: a pixel is foreground if any colour channel is on.
            mask = mask[..., :3].max(axis=2) if mask.shape[2] >= 3 else \
                mask[..., 0]
        if np.issubdtype(mask.dtype, np.integer):
            cutoff = self.threshold * np.iinfo(mask.dtype).max
        else:
            cutoff = self.threshold
        gt_seg_map = (mask > cutoff).astype(np.uint8)

        if self.check_shape and 'ori_shape' in results:
            img_hw = tuple(results['ori_shape'][:2])
            if tuple(gt_seg_map.shape) != img_hw:
                raise ValueError(
                    f'mask {path!r} has size (H, W) = {gt_seg_map.shape} but '
                    f'image {results.get("img_path")!r} has size {img_hw}. '
                    'Check that the mask belongs to this image (img_suffix / '
                    'mask_suffix / split lists) or re-export the mask at the '
                    "image's resolution.")

        results['gt_seg_map'] = gt_seg_map
        seg_fields = results.setdefault('seg_fields', [])
        if 'gt_seg_map' not in seg_fields:
            seg_fields.append('gt_seg_map')
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(threshold={self.threshold}, '
                f'check_shape={self.check_shape}, '
                f'backend_args={self.backend_args!r})')
