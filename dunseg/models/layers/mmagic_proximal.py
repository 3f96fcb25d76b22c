"""mmagic restoration networks as feature-level proximal modules.

A deep unfolding network alternates a gradient step with a learned proximal
mapping ``x <- prox(x)`` on (N, C, H, W) features. :class:`MMagicProximal`
lets any image-to-image network of mmagic (NAFNet, Restormer, SwinIR, ...)
play that role from a config::

    backbone = dict(
        type='VLUNet', dim=48,
        proximal_cfg=dict(
            type='MMagicProximal',
            arch=dict(type='NAFNet', mid_channels=16,
                      enc_blk_nums=[1, 1], dec_blk_nums=[1, 1])))

The unfolding network injects the stage's channel count as ``dim``; the
wrapper writes it into the network's own input/output channel arguments
(mmagic 1.2: ``img_channels`` for NAFNet, ``img_channel`` for NAFBaseline,
``inp_channels`` + ``out_channels`` for Restormer, ``in_chans`` for
SwinIRNet), pads the features to the multiple the network needs
(``2 ** len(enc_blk_nums)`` for NAFNet, 8 for Restormer's three
down-samplings, ``window_size`` for SwinIR) and crops the result back.

Why a wrapper and not ``proximal_cfg=dict(type='mmagic.Restormer')``: the
injected ``dim`` would land in Restormer's *width* argument (also called
``dim``) and NAFNet has no ``dim`` at all; the input channels would stay 3.

The padding is done here with ``pad_mode='replicate'`` (any size) because
the deepest unfolding level can be smaller than the networks' own
reflect-padding allows (Restormer reflect-pads a 2x2 map by 6 and fails).

mmagic is an optional extra (``pip install --no-deps mmagic==1.2.0`` then
``pip install -r requirements/mmagic.txt``; docs/get_started.md). It is
imported only when an :class:`MMagicProximal` is built, after the two
shims it needs on this stack: ``np.bool8 = np.bool_`` (removed in numpy 2,
still used by mmagic's dependencies) and :mod:`dunseg.utils.mmcv_compat`
(mmagic imports ``mmcv.ops``, which mmcv-lite lacks).
"""
import importlib
import inspect
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule

from dunseg.registry import MODELS

MMAGIC_INSTALL_HINT = (
    'install the optional mmagic extra: `pip install --no-deps '
    'mmagic==1.2.0 && pip install -r requirements/mmagic.txt` (a plain '
    '`pip install mmagic` pulls dependencies that break its import; see '
    'docs/get_started.md, "Optional: mmagic proximal modules")')

# Constructor arguments that carry the image channels, per mmagic class
# (looked up along the class's MRO, so subclasses such as NAFNetLocal match).
CHANNEL_ARGS: Dict[str, Tuple[str, ...]] = {
    'NAFNet': ('img_channels', ),
    'NAFBaseline': ('img_channel', ),
    'Restormer': ('inp_channels', 'out_channels'),
    'SwinIRNet': ('in_chans', ),
}
# Defaults that make a network map (N, C, H, W) to the same shape.
SAME_SIZE_DEFAULTS: Dict[str, dict] = {
    # upscale only matters with an upsampler, but SwinIRNet crops its output
    # to H * upscale, which would keep the padding with the default 2.
    'SwinIRNet': dict(upscale=1),
}


def import_mmagic_models():
    """Import mmagic with dunseg's shims and return its ``MODELS`` registry.

    Raises:
        ImportError: mmagic (or one of its dependencies) is not installed;
            the message gives the working install commands.
    """
    import numpy as np
    if not hasattr(np, 'bool8'):
        # numpy 2 removed np.bool8; mmagic 1.2's dependency chain uses it.
        np.bool8 = np.bool_
    from dunseg.utils.mmcv_compat import install_mmcv_ops_compat
    install_mmcv_ops_compat()
    try:
        importlib.import_module('mmagic')
        registry = importlib.import_module('mmagic.registry')
        # Importing the package registers every network in the registry.
        importlib.import_module('mmagic.models')
    except ImportError as err:
        raise ImportError(
            f'MMagicProximal needs mmagic ({type(err).__name__}: {err}); '
            f'{MMAGIC_INSTALL_HINT}') from err
    return registry.MODELS


def _lookup(mro_names: Sequence[str], table: dict):
    for name in mro_names:
        if name in table:
            return table[name]
    return None


@MODELS.register_module()
class MMagicProximal(BaseModule):
    """An mmagic image-to-image network used on ``dim``-channel features.

    Args:
        dim (int): Feature channels C of the input and output (injected by
            the unfolding network, e.g. ``VLUNet``'s ``proximal_cfg``).
        arch (dict): The mmagic network config, ``type`` being a name in
            mmagic's ``MODELS`` registry (``'NAFNet'`` or ``'mmagic.NAFNet'``)
            and every other key a constructor argument. Leave the channel
            arguments out (they are set to ``dim``) or set them to ``dim``.
        channel_args (sequence[str], optional): Constructor arguments to set
            to ``dim``. None = the known ones for NAFNet, NAFBaseline,
            Restormer, SwinIRNet (and subclasses), else ``in_channels`` and
            ``out_channels`` when the network takes both.
        pad_multiple (int, optional): Pad H and W to a multiple of this before
            the network (then crop back). None = from the network:
            ``padder_size`` (NAFNet family), ``window_size`` (SwinIR), 8
            (Restormer), else 1.
        pad_mode (str): ``F.pad`` mode for that padding ('replicate' works
            for every size; 'reflect' needs the pad to be smaller than the
            map, 'constant' pads zeros).
        residual (bool): Return ``x + net(x)``. The mmagic restoration
            networks above already add their input internally (NAFNet,
            Restormer, SwinIR without upsampler), so the default is False.
        init_cfg (dict, optional): MMEngine init config of the wrapper.
    """

    def __init__(self,
                 dim: int,
                 arch: dict,
                 channel_args: Optional[Sequence[str]] = None,
                 pad_multiple: Optional[int] = None,
                 pad_mode: str = 'replicate',
                 residual: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not isinstance(arch, dict) or not isinstance(arch.get('type'), str):
            raise TypeError(
                'MMagicProximal: arch must be a dict with a str `type` naming '
                "an mmagic network, e.g. dict(type='NAFNet', mid_channels=16)"
                f', got {arch!r}')
        if pad_mode not in ('replicate', 'reflect', 'constant', 'circular'):
            raise ValueError(
                "MMagicProximal: pad_mode must be 'replicate', 'reflect', "
                f"'constant' or 'circular', got {pad_mode!r}")
        mmagic_models = import_mmagic_models()
        arch = dict(arch)
        type_name = arch.pop('type')
        name = type_name[len('mmagic.'):] if type_name.startswith(
            'mmagic.') else type_name
        net_cls = mmagic_models.get(name)
        if net_cls is None:
            raise KeyError(
                f'MMagicProximal: arch type {type_name!r} is not in mmagic\'s '
                'MODELS registry; restoration networks that keep the image '
                "size include 'NAFNet', 'NAFBaseline', 'Restormer', "
                "'SwinIRNet'")
        mro_names = [cls.__name__ for cls in net_cls.__mro__]

        if channel_args is None:
            channel_args = _lookup(mro_names, CHANNEL_ARGS)
        if channel_args is None:
            params = inspect.signature(net_cls.__init__).parameters
            if 'in_channels' in params and 'out_channels' in params:
                channel_args = ('in_channels', 'out_channels')
            else:
                raise ValueError(
                    f'MMagicProximal: do not know which constructor '
                    f'arguments of mmagic {name} hold the image channels; '
                    'pass channel_args=(...) naming them (its arguments: '
                    f'{[p for p in params if p != "self"]})')
        for key in channel_args:
            if key in arch and arch[key] != dim:
                raise ValueError(
                    f'MMagicProximal: arch[{key!r}]={arch[key]} conflicts '
                    f'with the feature channels dim={dim} (the unfolding '
                    f'network injects dim); drop {key!r} from arch')
            arch[key] = dim
        for key, value in (_lookup(mro_names, SAME_SIZE_DEFAULTS)
                           or {}).items():
            arch.setdefault(key, value)
        if 'Restormer' in mro_names and arch.get('dual_pixel_task', False):
            raise ValueError('MMagicProximal: Restormer(dual_pixel_task=True)'
                             ' takes a dict of two images, not features')

        self.dim = dim
        self.arch_name = name
        self.net = net_cls(**arch)
        if pad_multiple is None:
            pad_multiple = self._auto_pad_multiple(mro_names)
        if int(pad_multiple) < 1:
            raise ValueError(f'MMagicProximal: pad_multiple must be >= 1, got '
                             f'{pad_multiple}')
        self.pad_multiple = int(pad_multiple)
        self.pad_mode = pad_mode
        self.residual = residual

    def _auto_pad_multiple(self, mro_names: Sequence[str]) -> int:
        if hasattr(self.net, 'padder_size'):
            return int(self.net.padder_size)
        if 'SwinIRNet' in mro_names:
            return int(self.net.window_size)
        if 'Restormer' in mro_names:
            return 8  # three 2x down-samplings
        return 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.dim:
            raise ValueError(
                f'MMagicProximal({self.arch_name}) expects features of shape '
                f'(N, {self.dim}, H, W), got {tuple(x.shape)}')
        h, w = x.shape[-2:]
        pad_h = -h % self.pad_multiple
        pad_w = -w % self.pad_multiple
        inp = x
        if pad_h or pad_w:
            inp = F.pad(x, (0, pad_w, 0, pad_h), mode=self.pad_mode)
        out = self.net(inp)
        if not isinstance(out, torch.Tensor) or out.shape != inp.shape:
            shape = tuple(out.shape) if isinstance(out,
                                                   torch.Tensor) else type(out)
            raise ValueError(
                f'MMagicProximal: mmagic {self.arch_name} mapped '
                f'{tuple(inp.shape)} to {shape}; a proximal module must keep '
                'the shape (use a restoration network without upsampler, '
                'e.g. SwinIRNet with upsampler=\'\')')
        out = out[:, :, :h, :w]
        return x + out if self.residual else out

    def extra_repr(self) -> str:
        return (f'dim={self.dim}, arch={self.arch_name}, '
                f'pad_multiple={self.pad_multiple}, '
                f'pad_mode={self.pad_mode!r}, residual={self.residual}')


__all__ = ['MMagicProximal', 'import_mmagic_models', 'MMAGIC_INSTALL_HINT']
