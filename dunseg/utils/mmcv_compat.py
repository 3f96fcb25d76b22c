"""Make ``mmcv.ops`` importable when mmcv has no compiled extension.

dunseg depends on ``mmcv-lite`` (pure Python): PyPI has no mmcv 2.x wheels
and building the ops takes ~20 minutes. mmsegmentation imports
``mmcv.ops.point_sample`` at import time, so without ``mmcv._ext`` even
``import mmseg.models`` fails. :func:`install_mmcv_ops_compat` lets
``mmcv.ops`` import; each compiled op raises :class:`MissingCompiledOpError`
only when called. Pure-PyTorch parts of ``mmcv.ops`` keep working. With a
full mmcv build installed nothing is patched.
"""
import importlib
import types
from typing import Sequence

_INSTALLED = False


class MissingCompiledOpError(RuntimeError):
    """A compiled mmcv op was called but mmcv has no compiled extension."""


class _MissingExtension(types.ModuleType):

    def __init__(self, name: str) -> None:
        super().__init__(f'mmcv.{name}')

    def __getattr__(self, op: str):
        if op.startswith('__'):
            raise AttributeError(op)

        def missing_op(*args, **kwargs):
            raise MissingCompiledOpError(
                f'mmcv compiled op "{op}" is not available: mmcv-lite has no '
                'compiled extension (mmcv._ext). Use a component that does '
                'not need it, or build full mmcv (docs/get_started.md, '
                '"Full mmcv with compiled ops").')

        missing_op.__name__ = op
        return missing_op


def install_mmcv_ops_compat() -> bool:
    """Patch mmcv's extension loader if ``mmcv._ext`` is missing.

    Returns:
        bool: True if the compatibility layer is active.
    """
    global _INSTALLED
    if _INSTALLED:
        return True
    try:
        importlib.import_module('mmcv._ext')
        return False
    except ImportError:
        pass
    from mmcv.utils import ext_loader
    original = ext_loader.load_ext

    def load_ext(name: str, funcs: Sequence[str]):
        try:
            return original(name, funcs)
        except ImportError:
            return _MissingExtension(name)

    ext_loader.load_ext = load_ext
    _INSTALLED = True
    return True
