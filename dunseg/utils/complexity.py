"""Multiply-accumulate (MAC) and parameter counting with forward hooks.

One MAC is one fused multiply-add; FLOPs are usually quoted as 2 x MACs.
The counting rules follow thop, which produced the figures published for
RPCANet (44.6 G) and RPCANet+ (13.9 G) at 256 x 256:

- convolutions (any dimension, also transposed): per output element
  ``in_channels / groups * prod(kernel_size)``, plus 1 when there is a bias;
- linear layers: per output element ``in_features``, plus 1 for the bias;
- batch/group/instance/layer normalisation: 2 per element (the scale and
  shift an inference engine folds the normalisation into), 1 without
  affine parameters;
- ``nn.MultiheadAttention`` (e.g. in CLIP towers): its q/k/v input and
  output projections like linear layers (thop has no rule for it and
  counts nothing); the attention matmuls themselves are not counted, as for
  every other attention here;
- a module with a ``count_macs(inputs, output)`` method reports its own
  MACs, for work done outside counted layers: the selective scan of the
  Mamba layers (:class:`~dunseg.models.layers.SelectiveScan`: per batch
  element, channel and step, 4 per state -- ``Δ·A``, ``exp(ΔA)·h``,
  ``(Δu)·B``, ``C·h`` -- plus ``Δ·u`` and one each for the ``D`` skip and
  the ``silu(z)`` gate; the exponential is not counted), and the
  projections ``SS2D``, ``MambaLayer`` and ``BiMamba`` apply as einsums or
  ``F.linear`` (per output element, the input width).

Activations, pooling and element-wise tensor arithmetic written as plain
tensor expressions (residual additions, the SE rescaling ``x * w``, the RPCA
state updates) are not counted: they do no multiply-accumulates worth
speaking of and thop ignores them too.
"""
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

import torch
from torch import nn

_CONV_TYPES = (nn.modules.conv._ConvNd, )
_NORM_TYPES = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm,
               nn.modules.instancenorm._InstanceNorm, nn.LayerNorm)


@dataclass
class ModuleComplexity:
    """MACs and parameters of one module, its submodules included."""
    name: str
    type: str
    macs: int = 0
    params: int = 0
    calls: int = 0


def _first_tensor(value) -> Optional[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (list, tuple)):
        for item in value:
            tensor = _first_tensor(item)
            if tensor is not None:
                return tensor
    return None


def module_macs(module: nn.Module, inputs: tuple, output) -> Optional[int]:
    """MACs of one call of ``module``, or None if the type is not counted."""
    count = getattr(module, 'count_macs', None)
    if callable(count):
        return count(inputs, output)
    out = _first_tensor(output)
    if out is None:
        return None
    if isinstance(module, _CONV_TYPES):
        in_channels = _first_tensor(inputs).shape[1]
        per_output = (in_channels // module.groups *
                      math.prod(module.kernel_size))
        return out.numel() * (per_output + (module.bias is not None))
    if isinstance(module, nn.Linear):
        return out.numel() * (module.in_features + (module.bias is not None))
    if isinstance(module, nn.MultiheadAttention):
        query = _first_tensor(inputs)
        key = inputs[1] if len(inputs) > 1 and isinstance(
            inputs[1], torch.Tensor) else query
        dim = module.embed_dim
        bias = module.in_proj_bias is not None
        q_tokens = query.numel() // query.shape[-1]
        k_tokens = key.numel() // key.shape[-1]
        in_proj = (q_tokens + 2 * k_tokens) * dim * (dim + bias)
        out_bias = module.out_proj.bias is not None
        return in_proj + q_tokens * dim * (dim + out_bias)
    if isinstance(module, _NORM_TYPES):
        affine = getattr(module, 'affine', False) or getattr(
            module, 'elementwise_affine', False)
        return out.numel() * (2 if affine else 1)
    return None


def _tensor_forward(model: nn.Module, inputs: torch.Tensor):
    """``model(inputs, mode='tensor')`` for MMEngine models, else ``model(x)``.

    MMEngine models take a ``mode`` argument whose 'tensor' branch is the
    bare network without data preprocessing, losses or post-processing.
    """
    from mmengine.model import BaseModel
    if isinstance(model, BaseModel):
        return model(inputs, mode='tensor')
    return model(inputs)


def module_complexity(
    model: nn.Module,
    inputs: torch.Tensor,
    forward: Optional[Callable[[nn.Module, torch.Tensor], object]] = None,
    fill_caches: bool = True
) -> Dict[str, ModuleComplexity]:
    """Run one forward pass and attribute MACs and parameters to modules.

    The model is run in eval mode under ``torch.no_grad`` (so BatchNorm
    running statistics are left untouched) and its train/eval flags are
    restored afterwards.

    Args:
        model (nn.Module): The network.
        inputs (Tensor): One batch; MACs scale with its batch size.
        forward (callable, optional): ``forward(model, inputs)``; defaults to
            ``model(inputs, mode='tensor')`` for MMEngine models.
        fill_caches (bool): Run one uncounted forward first, so work a
            model caches across images (e.g. a prior head's prompt
            features, computed once) is not counted as per-image work.

    Returns:
        dict: module name -> :class:`ModuleComplexity` in ``named_modules``
        order, each entry including its submodules; ``''`` is the whole model.
    """
    forward = forward or _tensor_forward
    leaf_macs: Dict[str, int] = {}
    leaf_calls: Dict[str, int] = {}

    def make_hook(name: str):

        def hook(module, args, output):
            macs = module_macs(module, args, output)
            if macs is not None:
                leaf_macs[name] = leaf_macs.get(name, 0) + macs
                leaf_calls[name] = leaf_calls.get(name, 0) + 1

        return hook

    modules = OrderedDict(model.named_modules())
    handles = [
        module.register_forward_hook(make_hook(name))
        for name, module in modules.items()
    ]
    training_flags = {name: m.training for name, m in modules.items()}
    try:
        model.eval()
        with torch.no_grad():
            if fill_caches:
                for handle in handles:
                    handle.remove()
                forward(model, inputs)
                handles = [
                    module.register_forward_hook(make_hook(name))
                    for name, module in modules.items()
                ]
            forward(model, inputs)
    finally:
        for handle in handles:
            handle.remove()
        for name, module in modules.items():
            module.training = training_flags[name]

    stats = OrderedDict(
        (name,
         ModuleComplexity(
             name=name,
             type=type(module).__name__,
             params=sum(p.numel() for p in module.parameters())))
        for name, module in modules.items())
    for leaf, macs in leaf_macs.items():
        # Credit the leaf and every enclosing module ('a.b.c' -> '', 'a',
        # 'a.b', 'a.b.c').
        parts = leaf.split('.') if leaf else []
        for depth in range(len(parts) + 1):
            entry = stats['.'.join(parts[:depth])]
            entry.macs += macs
        stats[leaf].calls += leaf_calls[leaf]
    return stats


def count_macs(
    model: nn.Module,
    inputs: torch.Tensor,
    forward: Optional[Callable[[nn.Module, torch.Tensor], object]] = None
) -> Tuple[int, int]:
    """MACs of one forward pass on ``inputs`` and the parameter count.

    See the module docstring for what is counted. Example: RPCANet on a
    (1, 1, 256, 256) input gives about 44.56 G MACs and 679,896 parameters.

    Returns:
        tuple[int, int]: ``(macs, params)``.
    """
    total = module_complexity(model, inputs, forward)['']
    return total.macs, total.params


def format_count(value: float, unit: str = '') -> str:
    """``44557045760 -> '44.557 G'`` (decimal prefixes)."""
    for factor, prefix in ((1e12, 'T'), (1e9, 'G'), (1e6, 'M'), (1e3, 'K')):
        if abs(value) >= factor:
            return f'{value / factor:.3f} {prefix}{unit}'
    return f'{value:.0f} {unit}'.rstrip()


def complexity_table(stats: Dict[str, ModuleComplexity],
                     max_depth: int = 3) -> str:
    """Plain-text table of the modules down to ``max_depth`` dots deep.

    Modules with neither MACs nor parameters are left out; the share column
    is relative to the whole model.
    """
    total = stats[''].macs or 1
    rows = []
    for name, entry in stats.items():
        depth = 0 if name == '' else name.count('.') + 1
        if depth > max_depth or (entry.macs == 0 and entry.params == 0):
            continue
        label = '  ' * depth + (name.rsplit('.', 1)[-1] if name else 'model')
        share = f'{100 * entry.macs / total:.2f}'
        rows.append((label, entry.type, f'{entry.params:,}',
                     format_count(entry.macs), share))
    header = ('module', 'type', 'params', 'MACs', 'MACs %')
    widths = [
        max(len(row[i]) for row in rows + [header]) for i in range(len(header))
    ]

    def fmt(row):
        left = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        right = [cell.rjust(width) for cell, width in zip(row[2:], widths[2:])]
        return ' | '.join(left + right)

    lines = [fmt(header), '-+-'.join('-' * w for w in widths)]
    lines += [fmt(row) for row in rows]
    return '\n'.join(lines)
