import cv2
import numpy as np
import pytest
import torch

from dunseg.datasets.transforms import (
    LoadISTDImageFromFile,
    LoadPairedImageFromFile,
    PackISTDInputs,
    PackRestorationInputs,
)
from dunseg.utils.finite import check_finite_image


def _nan_image(shape=(8, 8, 1)):
    img = np.full(shape, 0.5, np.float32)
    img[2, 3] = np.nan  # min() and max() are NaN: passes a range check
    return img


def test_check_finite_image_names_the_source():
    check_finite_image(np.zeros((2, 2), np.float32), 'ok.png')
    check_finite_image(np.zeros((2, 2), np.uint8), 'ints.png')
    with pytest.raises(ValueError, match="'a.tiff' has 1 NaN"):
        check_finite_image(_nan_image(), 'a.tiff')
    with pytest.raises(ValueError, match='1 NaN or infinite'):
        check_finite_image(torch.tensor([0.0, float('inf')]), 't')


def test_pack_transforms_reject_non_finite_pixels():
    with pytest.raises(ValueError, match='frame.png'):
        PackISTDInputs()(dict(img=_nan_image(), img_path='frame.png'))
    clean = np.full((8, 8, 3), 0.5, np.float32)
    with pytest.raises(ValueError, match='gt_img'):
        PackRestorationInputs()(dict(img=clean, gt_img=_nan_image((8, 8, 3)),
                                     img_path='pair.png'))


def test_float_files_with_nan_are_rejected_by_the_loaders(tmp_path):
    path = str(tmp_path / 'nan.tiff')
    assert cv2.imwrite(path, _nan_image()[..., 0])
    with pytest.raises(ValueError, match='nan.tiff'):
        LoadISTDImageFromFile()(dict(img_path=path))
    with pytest.raises(ValueError, match='nan.tiff'):
        LoadPairedImageFromFile()(dict(img_path=path))
    bright = str(tmp_path / 'bright.tiff')
    assert cv2.imwrite(bright, np.full((8, 8), 3.0, np.float32))
    with pytest.raises(ValueError, match='outside'):
        LoadPairedImageFromFile()(dict(img_path=bright))
