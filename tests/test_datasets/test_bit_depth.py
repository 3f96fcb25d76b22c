"""16-bit images: 12-bit data in a 16-bit PNG is reported; bit_depth
scales it."""
import logging

import cv2
import numpy as np
import pytest

from dunseg.datasets.transforms import loading
from dunseg.datasets.transforms.loading import LoadISTDImageFromFile


@pytest.fixture
def logged(monkeypatch):
    records = []

    def fake_print_log(msg, logger=None, level=logging.INFO):
        records.append((level, msg))

    # raising=False: the module may not log at all (then nothing is recorded)
    monkeypatch.setattr(loading, 'print_log', fake_print_log, raising=False)
    return records


def _png(tmp_path, name, top):
    img = np.zeros((16, 20), np.uint16)
    img[5, 7] = top
    img[2, 3] = top // 3
    path = str(tmp_path / name)
    assert cv2.imwrite(path, img)
    return path


def _warnings(records):
    return [msg for level, msg in records if level == logging.WARNING]


def test_12bit_data_in_16bit_png_is_logged(tmp_path, logged):
    path = _png(tmp_path, 'ir_12bit.png', 4095)
    out = LoadISTDImageFromFile()(dict(img_path=path))['img']
    # today's scaling is kept (the full 16-bit range) ...
    assert out.max() == pytest.approx(4095 / 65535)
    # ... but not silently
    warnings = _warnings(logged)
    assert len(warnings) == 1
    assert 'ir_12bit.png' in warnings[0] and 'bit_depth' in warnings[0]
    assert '--bit-depth' in warnings[0]


def test_full_range_16bit_and_8bit_pngs_are_not_logged(tmp_path, logged):
    loader = LoadISTDImageFromFile()
    out = loader(dict(img_path=_png(tmp_path, 'full.png', 65535)))['img']
    assert out.max() == 1.0
    path8 = str(tmp_path / 'eight.png')
    cv2.imwrite(path8, np.full((4, 4), 200, np.uint8))
    loader(dict(img_path=path8))
    assert not _warnings(logged)


def test_explicit_bit_depth_or_scale_is_not_logged(tmp_path, logged):
    path = _png(tmp_path, 'ir_12bit.png', 4095)
    LoadISTDImageFromFile(bit_depth=12)(dict(img_path=path))
    LoadISTDImageFromFile(bit_depth=16)(dict(img_path=path))
    LoadISTDImageFromFile(scale=4095)(dict(img_path=path))
    assert not _warnings(logged)


def test_logged_once_per_loader(tmp_path, logged):
    loader = LoadISTDImageFromFile()
    for name in ('a.png', 'b.png', 'c.png'):
        loader(dict(img_path=_png(tmp_path, name, 1000)))
    warnings = _warnings(logged)
    assert len(warnings) == 1 and 'a.png' in warnings[0]


def test_bit_depth_12_maps_4095_to_one(tmp_path):
    path = _png(tmp_path, 'ir_12bit.png', 4095)
    out = LoadISTDImageFromFile(bit_depth=12)(dict(img_path=path))['img']
    assert out.dtype == np.float32 and out.shape == (16, 20, 1)
    assert out[5, 7, 0] == 1.0
    assert out[2, 3, 0] == pytest.approx(1365 / 4095)
    # same as the explicit divisor
    same = LoadISTDImageFromFile(scale=4095)(dict(img_path=path))['img']
    np.testing.assert_array_equal(out, same)


def test_bit_depth_errors(tmp_path):
    path = _png(tmp_path, 'ir_14bit.png', 16383)
    with pytest.raises(ValueError, match=r"ir_14bit.png.*above 4095"):
        LoadISTDImageFromFile(bit_depth=12)(dict(img_path=path))
    path8 = str(tmp_path / 'eight.png')
    cv2.imwrite(path8, np.full((4, 4), 200, np.uint8))
    with pytest.raises(ValueError, match=r'eight.png.*8-bit'):
        LoadISTDImageFromFile(bit_depth=12)(dict(img_path=path8))
    with pytest.raises(ValueError, match='not both'):
        LoadISTDImageFromFile(bit_depth=12, scale=4095)
    for bad in (0, 17, 12.0, True):
        with pytest.raises(ValueError, match='bit_depth must be'):
            LoadISTDImageFromFile(bit_depth=bad)


def test_cod_loader_inherits_the_warning(tmp_path, logged):
    from dunseg.datasets.transforms import LoadCODImageFromFile
    path = _png(tmp_path, 'cod_12bit.png', 4095)
    out = LoadCODImageFromFile()(dict(img_path=path))['img']
    assert out.shape == (16, 20, 3)
    warnings = _warnings(logged)
    assert len(warnings) == 1 and 'cod_12bit.png' in warnings[0]


def test_cod_loader_takes_the_bit_depth(tmp_path, logged):
    from dunseg.datasets.transforms import LoadCODImageFromFile
    path = _png(tmp_path, 'cod_12bit.png', 4095)
    out = LoadCODImageFromFile(bit_depth=12)(dict(img_path=path))['img']
    assert out.max() == 1.0 and not _warnings(logged)


def test_paired_and_medical_slice_loaders_report_low_range_16bit_once(
        tmp_path, logged, monkeypatch):
    """Loaders without a bit-depth option still say that a 16-bit file
    uses under 1/16 of its range, once each, with advice they can follow."""
    from dunseg.datasets.medical.readers import read_medical_slice
    from dunseg.datasets.transforms.restoration import to_rgb_float
    monkeypatch.setattr(loading, '_LOW_RANGE_REPORTED', set())
    first, second = (_png(tmp_path, f'{n}.png', 4095) for n in 'ab')
    for path in (first, second):
        out = to_rgb_float(cv2.imread(path, cv2.IMREAD_UNCHANGED), path)
        assert out.dtype == np.float32 and out.max() == pytest.approx(
            4095 / 65535)
    for path in (first, second):
        read_medical_slice(path)
    warnings = _warnings(logged)
    assert len(warnings) == 2 and all('a.png' in w for w in warnings)
    assert all('rescale the files to the full 16-bit range' in w
               and 'bit_depth' not in w for w in warnings)
    # full-range 16-bit data is not reported
    full = _png(tmp_path, 'full.png', 60000)
    to_rgb_float(cv2.imread(full, cv2.IMREAD_UNCHANGED), full)
    assert len(_warnings(logged)) == 2
