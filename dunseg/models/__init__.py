from .architectures import *  # noqa: F401,F403
from .classical import *  # noqa: F401,F403
from .data_preprocessor import DunSegDataPreprocessor
from .decoders import *  # noqa: F401,F403
from .encoders import *  # noqa: F401,F403
from .layers import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .priors import *  # noqa: F401,F403
from .selectors import *  # noqa: F401,F403
from .unfolding import *  # noqa: F401,F403

__all__ = ['DunSegDataPreprocessor']
