from .base import BaseSelector, check_candidates, gather_candidates
from .iqa_selectors import (
                            CombinedIQASelector,
                            MUSIQSelector,
                            NUNIQASelector,
                            PyIQASelector,
                            QAlignSelector,
                            TOPIQSelector,
                            normalise_scores,
)
from .learned_quality import (
                            DEFAULT_INPUT_AWARE_WEIGHTS,
                            DEFAULT_QUALITY_WEIGHTS,
                            InputAwareQualitySelector,
                            LearnedQualitySelector,
                            QualityFeatureNet,
                            image_quality_features,
                            pair_quality_features,
)
from .simple_selectors import LastSelector, OracleSelector

__all__ = [
    'BaseSelector', 'check_candidates', 'gather_candidates', 'LastSelector',
    'OracleSelector', 'LearnedQualitySelector', 'QualityFeatureNet',
    'image_quality_features', 'InputAwareQualitySelector',
    'pair_quality_features', 'DEFAULT_INPUT_AWARE_WEIGHTS',
    'DEFAULT_QUALITY_WEIGHTS', 'PyIQASelector', 'TOPIQSelector',
    'MUSIQSelector', 'QAlignSelector', 'CombinedIQASelector',
    'NUNIQASelector', 'normalise_scores'
]
