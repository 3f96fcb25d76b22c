"""Datasets and transforms of dunseg."""
from .cod import (
                   COD10KDataset,
                   CODDataset,
                   DegradedCODTestSets,
                   ImageMaskFolderDataset,
)
from .degradation_types import (
                   DEGRADATION_PROMPTS,
                   DEGRADATIONS_3TASK,
                   DEGRADATIONS_5TASK,
                   degradation_label,
)
from .istd import (
                   IRSTD1kDataset,
                   ISTDDataset,
                   NUAASIRSTDataset,
                   NUDTSIRSTDataset,
                   SIRSTAugDataset,
)
from .medical import (
                   ACDCDataset,
                   BraTS2021Dataset,
                   COVID19CTDataset,
                   HCCTACESegDataset,
                   MedicalSliceFolderDataset,
                   MedicalVolumeDataset,
                   packaged_sample_slices,
)
from .restoration import (
                   AllInOneRestorationDataset,
                   DenoiseTestDataset,
                   PairedImageDataset,
)
from .synthesis import CODSceneGenerator, SIRSTSceneGenerator
from .synthetic_cod import SyntheticCODDataset
from .synthetic_degradation import SyntheticDegradationDataset
from .synthetic_phantom import PhantomGenerator, SyntheticPhantomDataset
from .synthetic_sirst import SyntheticSIRSTDataset
from .transforms import (
                   CenterCropToMultiple,
                   Degrade,
                   LoadISTDAnnotations,
                   LoadISTDImageFromFile,
                   LoadPairedImageFromFile,
                   PackISTDInputs,
                   PackRestorationInputs,
                   PairedRandomCrop,
                   PairedRandomFlipRot,
                   RandomTranspose,
                   ResizeISTD,
)
from .transforms.medical import (
                   KSpaceUndersample,
                   PackMedicalInputs,
                   ResizeMedical,
)

__all__ = [
    'ISTDDataset', 'NUDTSIRSTDataset', 'IRSTD1kDataset', 'SIRSTAugDataset',
    'NUAASIRSTDataset', 'SyntheticSIRSTDataset', 'SIRSTSceneGenerator',
    'LoadISTDImageFromFile', 'LoadISTDAnnotations', 'ResizeISTD',
    'RandomTranspose', 'PackISTDInputs', 'DEGRADATIONS_5TASK',
    'DEGRADATIONS_3TASK', 'DEGRADATION_PROMPTS', 'degradation_label',
    'AllInOneRestorationDataset', 'PairedImageDataset', 'DenoiseTestDataset',
    'SyntheticDegradationDataset', 'LoadPairedImageFromFile',
    'PairedRandomCrop', 'PairedRandomFlipRot', 'CenterCropToMultiple',
    'Degrade', 'PackRestorationInputs', 'CODDataset', 'COD10KDataset',
    'ImageMaskFolderDataset', 'DegradedCODTestSets', 'SyntheticCODDataset',
    'CODSceneGenerator',
    'MedicalVolumeDataset', 'ACDCDataset', 'BraTS2021Dataset',
    'COVID19CTDataset', 'HCCTACESegDataset', 'MedicalSliceFolderDataset',
    'packaged_sample_slices', 'SyntheticPhantomDataset', 'PhantomGenerator',
    'KSpaceUndersample', 'PackMedicalInputs', 'ResizeMedical'
]
