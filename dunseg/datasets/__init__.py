"""Datasets and transforms of dunseg."""
from .istd import (IRSTD1kDataset, ISTDDataset, NUAASIRSTDataset,
                   NUDTSIRSTDataset, SIRSTAugDataset)
from .synthetic_sirst import SIRSTSceneGenerator, SyntheticSIRSTDataset
from .transforms import (LoadISTDAnnotations, LoadISTDImageFromFile,
                         PackISTDInputs, RandomTranspose, ResizeISTD)

__all__ = [
    'ISTDDataset', 'NUDTSIRSTDataset', 'IRSTD1kDataset', 'SIRSTAugDataset',
    'NUAASIRSTDataset', 'SyntheticSIRSTDataset', 'SIRSTSceneGenerator',
    'LoadISTDImageFromFile', 'LoadISTDAnnotations', 'ResizeISTD',
    'RandomTranspose', 'PackISTDInputs'
]
