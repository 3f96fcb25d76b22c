"""Data transforms for infrared small-target (ISTD) pipelines.

Importing :mod:`mmcv.transforms` (done by the modules below) registers mmcv's
own transforms (``RandomFlip``, ``Resize`` ...) in MMEngine's root
``TRANSFORMS``, where dunseg's registry finds them as a fallback.
"""
from .cod import (
                  CODColorEnhance,
                  CODDegrade,
                  CODRandomCrop,
                  CODRandomFlip,
                  CODRandomPepper,
                  CODRandomRotate,
                  GenerateEdgeFromMask,
                  LoadCODAnnotations,
                  LoadCODImageFromFile,
                  PackCODInputs,
                  ResizeCOD,
                  degrade_cod_image,
                  mask_boundary,
)
from .formatting import PackISTDInputs
from .geometric import RandomTranspose, ResizeISTD
from .loading import LoadISTDAnnotations, LoadISTDImageFromFile
from .medical import (
                  MEDICAL_KEYS,
                  KSpaceUndersample,
                  LoadMedicalSliceFromFile,
                  PackMedicalInputs,
                  ResizeMedical,
)
from .restoration import (
                  CenterCropToMultiple,
                  Degrade,
                  LoadPairedImageFromFile,
                  PackRestorationInputs,
                  PairedRandomCrop,
                  PairedRandomFlipRot,
)

__all__ = [
    'LoadISTDImageFromFile', 'LoadISTDAnnotations', 'ResizeISTD',
    'RandomTranspose', 'PackISTDInputs', 'LoadPairedImageFromFile',
    'PairedRandomCrop', 'PairedRandomFlipRot', 'CenterCropToMultiple',
    'Degrade', 'PackRestorationInputs', 'LoadCODImageFromFile',
    'LoadCODAnnotations', 'GenerateEdgeFromMask', 'CODRandomFlip',
    'CODRandomCrop', 'CODRandomRotate', 'CODColorEnhance', 'CODRandomPepper',
    'ResizeCOD', 'CODDegrade', 'PackCODInputs', 'degrade_cod_image',
    'mask_boundary', 'KSpaceUndersample', 'PackMedicalInputs',
    'ResizeMedical', 'LoadMedicalSliceFromFile', 'MEDICAL_KEYS'
]
from .observation import DegradeObservation  # noqa: E402

__all__ += ['DegradeObservation']
