"""Data transforms for infrared small-target (ISTD) pipelines.

Importing :mod:`mmcv.transforms` (done by the modules below) registers mmcv's
own transforms (``RandomFlip``, ``Resize`` ...) in MMEngine's root
``TRANSFORMS``, where dunseg's registry finds them as a fallback.
"""
from .formatting import PackISTDInputs
from .geometric import RandomTranspose, ResizeISTD
from .loading import LoadISTDAnnotations, LoadISTDImageFromFile
from .restoration import (CenterCropToMultiple, Degrade,
                          LoadPairedImageFromFile, PackRestorationInputs,
                          PairedRandomCrop, PairedRandomFlipRot)

__all__ = [
    'LoadISTDImageFromFile', 'LoadISTDAnnotations', 'ResizeISTD',
    'RandomTranspose', 'PackISTDInputs', 'LoadPairedImageFromFile',
    'PairedRandomCrop', 'PairedRandomFlipRot', 'CenterCropToMultiple',
    'Degrade', 'PackRestorationInputs'
]
