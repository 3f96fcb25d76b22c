from .tophat import (
                     BaseClassicalDetector,
                     LocalContrastDetector,
                     TopHatDetector,
                     adaptive_contrast_score,
                     grey_dilation,
                     grey_erosion,
                     max_normalized_mask,
                     multiscale_patch_contrast,
                     white_top_hat,
)

__all__ = [
    'BaseClassicalDetector', 'TopHatDetector', 'LocalContrastDetector',
    'adaptive_contrast_score', 'grey_dilation', 'grey_erosion',
    'white_top_hat', 'multiscale_patch_contrast', 'max_normalized_mask'
]
