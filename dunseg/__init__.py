"""dunseg: deep unfolding networks for degraded-image restoration and segmentation."""
from .version import __version__

__all__ = ['__version__']
