"""dunseg: deep unfolding networks for degraded-image restoration and
segmentation."""
from .utils.mmcv_compat import install_mmcv_ops_compat
from .version import __version__

install_mmcv_ops_compat()

__all__ = ['__version__']
