"""Log processor that keeps integer metrics as integers."""
import numpy as np
from mmengine.runner import LogProcessor

from dunseg.registry import LOG_PROCESSORS


@LOG_PROCESSORS.register_module()
class DunSegLogProcessor(LogProcessor):
    """MMEngine's ``LogProcessor`` with metric values as Python numbers.

    MMEngine keeps logged scalars in NumPy arrays, so an integer metric
    (``num_images``, ``num_images_deblur/misread``) comes back as
    ``np.int64``; ``LoggerHook`` writes only Python types to the JSON
    results and turned those into ``null``. ``DunSegRunner`` uses this
    processor unless a config names another ``log_processor.type``.
    """

    def _collect_scalars(self, *args, **kwargs) -> dict:
        tag = super()._collect_scalars(*args, **kwargs)
        for key, value in tag.items():
            if isinstance(value, np.generic):
                tag[key] = value.item()
        return tag
