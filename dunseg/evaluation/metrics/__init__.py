from .cod_metric import (
                                 CODMetric,
                                 evaluate_cod_image,
                                 gt_to_uint8,
                                 prediction_to_uint8,
                                 summarize_cod_records,
)
from .degradation_recognition import DegradationRecognitionMetric
from .istd_metric import (
                                 ISTDMetric,
                                 binarize_prediction,
                                 evaluate_istd_image,
                                 pd_fa_centroid,
                                 pd_fa_rpcanet,
                                 pixel_counts,
                                 resize_for_evaluation,
                                 summarize_istd_records,
)
from .medical_metric import MedicalSegMetric, segmentation_scores
from .restoration_metric import (
                                 RestorationMetric,
                                 center_crop_to_multiple,
                                 psnr_ssim,
                                 rgb_to_y,
)

__all__ = [
    'RestorationMetric', 'center_crop_to_multiple', 'psnr_ssim', 'rgb_to_y',
    'DegradationRecognitionMetric', 'CODMetric', 'evaluate_cod_image',
    'gt_to_uint8', 'prediction_to_uint8', 'summarize_cod_records',
    'ISTDMetric', 'binarize_prediction', 'evaluate_istd_image',
    'pd_fa_centroid', 'pd_fa_rpcanet', 'pixel_counts', 'resize_for_evaluation',
    'summarize_istd_records', 'MedicalSegMetric', 'segmentation_scores'
]
