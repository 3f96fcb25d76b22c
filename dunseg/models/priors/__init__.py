from .adapters import ADAPTER_ACTIVATIONS, MLPAdapter
from .clip_builder import (
                           CLIP_VOCAB_SIZE,
                           OPENAI_CLIP_MEAN,
                           OPENAI_CLIP_STD,
                           CLIPImagePreprocess,
                           build_clip_model,
                           build_clip_tokenizer,
                           clip_image_size,
                           load_clip_weights,
)
from .clip_degradation_prior import (
                           CLIPDegradationPrior,
                           CLIPPriorBase,
                           convert_vlunet_clip_state_dict,
                           official_clip_state_dict,
)
from .daclip import DACLIP_DEGRADATIONS, DACLIPPrior, convert_daclip_state_dict
from .daclip_tuner import DACLIP_WORD_OF_CLASS, DACLIPTuner

__all__ = [
    'ADAPTER_ACTIVATIONS', 'MLPAdapter', 'CLIP_VOCAB_SIZE',
    'OPENAI_CLIP_MEAN', 'OPENAI_CLIP_STD', 'CLIPImagePreprocess',
    'build_clip_model', 'build_clip_tokenizer', 'clip_image_size',
    'load_clip_weights', 'CLIPDegradationPrior', 'CLIPPriorBase',
    'convert_vlunet_clip_state_dict', 'official_clip_state_dict',
    'DACLIPPrior', 'DACLIP_DEGRADATIONS', 'convert_daclip_state_dict',
    'DACLIPTuner', 'DACLIP_WORD_OF_CLASS'
]
from .dual_prior import MEDICAL_DEGRADATION_PROMPTS, CLIPDualPrior  # noqa

__all__ += ['CLIPDualPrior', 'MEDICAL_DEGRADATION_PROMPTS']
from .embedding_adapter import PriorEmbeddingAdapter  # noqa: E402

__all__ += ['PriorEmbeddingAdapter']
