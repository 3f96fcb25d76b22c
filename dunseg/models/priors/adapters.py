"""MLP adapters on top of frozen CLIP features (VLU-Net, CVPR 2025)."""
from typing import List

from torch import nn

ADAPTER_ACTIVATIONS = ('gelu', 'leaky_relu')


def _activation(act: str) -> nn.Module:
    if act == 'gelu':
        return nn.GELU()
    if act == 'leaky_relu':
        return nn.LeakyReLU()  # torch default slope 0.01, as the notebook
    raise ValueError(f'adapter act must be one of {ADAPTER_ACTIVATIONS}, '
                     f'got {act!r}')


class MLPAdapter(nn.Sequential):
    """``num_layers`` x (Linear + LayerNorm) with an activation in between.

    With the defaults this is VLU-Net's adapter (``net/clip.py``)::

        0 Linear(512, 512)  1 LayerNorm(512)  2 Act
        3 Linear(512, 512)  4 LayerNorm(512)  5 Act
        6 Linear(512, 512)  7 LayerNorm(512)

    so the parameter keys ``{0,1,3,4,6,7}.{weight,bias}`` are those of the
    official ``ad_imageEncoder.adapter.*`` / ``ad_textEncoder.adapter.*``.

    Args:
        dim (int): input and output width (the CLIP ``embed_dim``).
        hidden (int): width of the hidden layers. Defaults to ``dim``.
        num_layers (int): number of Linear layers (>= 1). Defaults to 3.
        act (str): ``'gelu'`` (``net/clip.py``, what VLU-Net runs with) or
            ``'leaky_relu'`` (the notebook ``CLIP_degradation_extractor.ipynb``
            that trained the released ``clip_tuned.pth``). Activations have
            no parameters, so either loads the released weights silently;
            only ``'leaky_relu'`` reproduces the features the adapters were
            trained to produce.
    """

    def __init__(self,
                 dim: int = 512,
                 hidden: int = None,
                 num_layers: int = 3,
                 act: str = 'gelu') -> None:
        if num_layers < 1:
            raise ValueError(f'num_layers must be >= 1, got {num_layers}')
        hidden = dim if hidden is None else hidden
        layers: List[nn.Module] = []
        for i in range(num_layers):
            in_dim = dim if i == 0 else hidden
            out_dim = dim if i == num_layers - 1 else hidden
            layers += [nn.Linear(in_dim, out_dim), nn.LayerNorm(out_dim)]
            if i < num_layers - 1:
                layers.append(_activation(act))
        super().__init__(*layers)
        self.dim = dim
        self.hidden = hidden
        self.act = act


__all__ = ['MLPAdapter', 'ADAPTER_ACTIVATIONS']
