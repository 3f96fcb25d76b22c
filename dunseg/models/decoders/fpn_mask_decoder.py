"""A plain FPN mask decoder: the non-unfolding baseline for COD models."""
from typing import Dict, List, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from dunseg.registry import MODELS


def _conv_bn_relu(in_channels: int, out_channels: int,
                  kernel_size: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size,
                  padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


@MODELS.register_module()
class FPNMaskDecoder(BaseModule):
    """Feature pyramid decoder to one mask (Lin et al., CVPR 2017; the
    "semantic FPN" fusion of Kirillov et al., CVPR 2019).

    Lateral 1×1 convolutions bring every encoder level to ``channels``, a
    top-down pass adds each coarser level (bilinearly upsampled) to the next
    finer one, a 3×3 convolution smooths each sum, and the levels are
    upsampled to the finest, concatenated and fused by ``num_fuse_convs``
    3×3 convolutions into one logit map at the input size.

    It takes the place of an unfolding backbone in
    :class:`~dunseg.models.architectures.CODSegmentor` (same call, one state
    ``{'mask': logits}``), so an encoder-decoder baseline shares the encoder,
    losses, data and metrics of the unfolding model it is compared with.

    Args:
        in_channels (sequence of int): Channels of the encoder levels, finest
            first.
        channels (int): Width of the pyramid.
        num_fuse_convs (int): 3×3 convolutions after the concatenation.
    """

    stage_names = ('final', )

    def __init__(self, in_channels: Sequence[int], channels: int = 64,
                 num_fuse_convs: int = 2, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_fuse_convs < 1:
            raise ValueError(f'num_fuse_convs must be >= 1, got '
                             f'{num_fuse_convs}')
        self.lateral = nn.ModuleList(
            _conv_bn_relu(c, channels, 1) for c in in_channels)
        self.smooth = nn.ModuleList(
            _conv_bn_relu(channels, channels) for _ in in_channels)
        fuse = [_conv_bn_relu(channels * len(in_channels), channels)]
        fuse += [_conv_bn_relu(channels, channels)
                 for _ in range(num_fuse_convs - 1)]
        self.fuse = nn.Sequential(*fuse)
        self.predict = nn.Conv2d(channels, 1, 1)

    def forward(self, image: torch.Tensor,
                features: Sequence[torch.Tensor]
                ) -> List[Dict[str, torch.Tensor]]:
        if len(features) != len(self.lateral):
            raise ValueError(f'FPNMaskDecoder was built for '
                             f'{len(self.lateral)} encoder levels, got '
                             f'{len(features)}')
        laterals = [conv(f) for conv, f in zip(self.lateral, features)]
        for i in range(len(laterals) - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + F.interpolate(
                laterals[i], size=laterals[i - 1].shape[-2:],
                mode='bilinear', align_corners=False)
        size = laterals[0].shape[-2:]
        pyramid = [
            F.interpolate(conv(x), size=size, mode='bilinear',
                          align_corners=False) if i else conv(x)
            for i, (conv, x) in enumerate(zip(self.smooth, laterals))
        ]
        logits = self.predict(self.fuse(torch.cat(pyramid, dim=1)))
        logits = F.interpolate(logits, size=image.shape[-2:],
                               mode='bilinear', align_corners=False)
        return [dict(mask=logits)]
