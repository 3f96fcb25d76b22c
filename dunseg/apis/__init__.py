from .inference import inference_model, init_model
from .score_folder import format_report, load_model, score_folder

__all__ = ['init_model', 'inference_model', 'score_folder', 'load_model',
           'format_report']
