from .cod_baselines import COD_BASELINES, all_zero_map, centre_gaussian_map
from .metrics import (
                      DegradationRecognitionMetric,  # noqa: F401
                      ISTDMetric,
                      RestorationMetric,
                      binarize_prediction,
                      evaluate_istd_image,
                      pd_fa_centroid,
                      pd_fa_rpcanet,
                      pixel_counts,
                      psnr_ssim,
                      resize_for_evaluation,
                      summarize_istd_records,
)

__all__ = [
    'RestorationMetric', 'psnr_ssim',
    'DegradationRecognitionMetric',
    'ISTDMetric', 'binarize_prediction', 'evaluate_istd_image',
    'pd_fa_centroid', 'pd_fa_rpcanet', 'pixel_counts', 'resize_for_evaluation',
    'summarize_istd_records', 'COD_BASELINES', 'centre_gaussian_map',
    'all_zero_map'
]
