from .clip_adapter_classifier import CLIPAdapterClassifier
from .cod_segmentor import CODSegmentor
from .nun_segmentor import NUNSegmentor
from .restorer import Restorer, stack_gt_images
from .unfolding_segmentor import UnfoldingSegmentor

__all__ = [
    'CLIPAdapterClassifier', 'UnfoldingSegmentor', 'Restorer',
    'stack_gt_images'
]
__all__ += ['CODSegmentor']
__all__ += ['NUNSegmentor']
from .joint_restorer_segmentor import JointRestorerSegmentor  # noqa: E402

__all__ += ['JointRestorerSegmentor']
from .medical_segmentor import MedicalSegmentor  # noqa: E402
from .restore_then_segment import RestoreThenSegment  # noqa: E402

__all__ += ['MedicalSegmentor', 'RestoreThenSegment']
from .prior_unfolding_segmentor import PriorUnfoldingSegmentor  # noqa: E402
from .stage_selection_restorer import StageSelectionRestorer  # noqa: E402

__all__ += ['PriorUnfoldingSegmentor', 'StageSelectionRestorer']
