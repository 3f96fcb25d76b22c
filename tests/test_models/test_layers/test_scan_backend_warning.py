"""mamba-ssm is optional: not installed is silent, but installed and
failing to import (e.g. a CUDA build without its ``selective_scan_cuda``
extension) is reported once, with the import error, before backend='auto'
falls back to the PyTorch scan. The packages here are fakes written to a
temporary folder; mamba-ssm itself is not needed."""
import importlib
import sys
import warnings

import pytest
import torch

from dunseg.models.layers.selective_scan import (
    mamba_ssm_available,
    resolve_backend,
)

# the module (dunseg.models.layers.selective_scan is also the function's name)
scan_module = importlib.import_module('dunseg.models.layers.selective_scan')


@pytest.fixture
def fake_site(tmp_path, monkeypatch):
    """A folder first on sys.path for fake ``mamba_ssm`` packages; every
    ``mamba_ssm`` module (and the once-only flag) is restored after."""
    saved = {k: v for k, v in sys.modules.items()
             if k == 'mamba_ssm' or k.startswith('mamba_ssm.')}
    for name in saved:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(scan_module, '_mamba_ssm_warned', False,
                        raising=False)
    yield tmp_path
    for name in [k for k in sys.modules
                 if k == 'mamba_ssm' or k.startswith('mamba_ssm.')]:
        del sys.modules[name]
    sys.modules.update(saved)


def write_package(root, interface_source=None):
    """``mamba_ssm/ops/selective_scan_interface.py`` with the given body;
    None leaves ``ops`` out (a partial install)."""
    pkg = root / 'mamba_ssm'
    pkg.mkdir()
    (pkg / '__init__.py').write_text('')
    if interface_source is not None:
        (pkg / 'ops').mkdir()
        (pkg / 'ops' / '__init__.py').write_text('')
        (pkg / 'ops' / 'selective_scan_interface.py').write_text(
            interface_source)


def scan_warnings(record):
    return [str(w.message) for w in record
            if 'mamba-ssm' in str(w.message)]


def test_broken_cuda_build_warns_once_with_the_import_error(fake_site):
    write_package(fake_site, 'import selective_scan_cuda\n'
                  'def selective_scan_fn(*args, **kwargs):\n    pass\n')
    with pytest.warns(UserWarning) as record:
        assert mamba_ssm_available() is False
        assert resolve_backend('auto', torch.device('cuda')) == 'torch'
    messages = scan_warnings(record)
    assert len(messages) == 1, messages
    assert 'selective_scan_cuda' in messages[0]
    assert 'installed but' in messages[0] and "'torch'" in messages[0]
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # once per process
        assert mamba_ssm_available() is False


@pytest.mark.parametrize('interface_source, expected', [
    (None, 'mamba_ssm.ops'),  # a submodule missing
    ("raise ImportError('libc10.so: undefined symbol: _ZN3c10')\n",
     'undefined symbol'),
    ("raise OSError('libcudart.so.12: cannot open shared object file')\n",
     'libcudart'),
])
def test_other_import_failures_warn(fake_site, interface_source, expected):
    write_package(fake_site, interface_source)
    with pytest.warns(UserWarning) as record:
        assert mamba_ssm_available() is False
    messages = scan_warnings(record)
    assert len(messages) == 1 and expected in messages[0], messages


class _NotInstalled:
    """A meta path finder that finds no ``mamba_ssm``, as on a machine
    without it, even if this one has it."""

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        if fullname == 'mamba_ssm':
            raise ModuleNotFoundError(f'No module named {fullname!r}',
                                      name=fullname)
        return None


def test_not_installed_is_silent(fake_site, monkeypatch):
    monkeypatch.setattr(sys, 'meta_path', [_NotInstalled] + sys.meta_path)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert mamba_ssm_available() is False
        assert resolve_backend('auto', torch.device('cuda')) == 'torch'


def test_working_install_is_used(fake_site):
    write_package(fake_site, 'def selective_scan_fn(*args, **kwargs):\n'
                  '    pass\n')
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert mamba_ssm_available() is True
        assert resolve_backend('auto', torch.device('cuda')) == 'mamba_ssm'
