"""Res2Net image encoder (Gao et al., TPAMI 2021), as used by SINet-V2,
FEDER, RUN and NUN (``res2net50_v1b_26w_4s``)."""
import math
from typing import List, Optional, Tuple

import torch
from mmengine.model import BaseModule
from torch import nn

from dunseg.registry import MODELS
from dunseg.utils.random_init import note_random_init

from .pretrained import load_pretrained_encoder, require_pretrained_file


class Bottle2neck(nn.Module):
    """Res2Net bottleneck: the 3x3 conv of a ResNet bottleneck split into
    ``scales`` groups of ``width`` channels, each group's conv also seeing the
    previous group's output (hierarchical residual connections).

    In the first block of a stage (``stage_block=True``) the groups are
    convolved independently (with the block's stride) and the last group is
    average-pooled instead of passed through unchanged.

    Parameter names follow the official implementation
    (github.com/Res2Net/Res2Net-PretrainedModels), so its ImageNet files load
    strictly.
    """
    expansion = 4

    def __init__(self,
                 in_channels: int,
                 planes: int,
                 stride: int = 1,
                 downsample: Optional[nn.Module] = None,
                 base_width: int = 26,
                 scales: int = 4,
                 stage_block: bool = False) -> None:
        super().__init__()
        width = int(math.floor(planes * (base_width / 64.0)))
        self.width = width
        self.scales = scales
        self.stage_block = stage_block
        self.num_convs = 1 if scales == 1 else scales - 1
        self.conv1 = nn.Conv2d(in_channels, width * scales, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width * scales)
        if stage_block:
            self.pool = nn.AvgPool2d(3, stride=stride, padding=1)
        self.convs = nn.ModuleList(
            nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
            for _ in range(self.num_convs))
        self.bns = nn.ModuleList(
            nn.BatchNorm2d(width) for _ in range(self.num_convs))
        self.conv3 = nn.Conv2d(
            width * scales, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        groups = torch.split(out, self.width, 1)
        outputs: List[torch.Tensor] = []
        for i in range(self.num_convs):
            group = groups[i]
            if i > 0 and not self.stage_block:
                group = group + outputs[-1]
            outputs.append(self.relu(self.bns[i](self.convs[i](group))))
        if self.scales > 1:
            last = groups[self.num_convs]
            outputs.append(self.pool(last) if self.stage_block else last)
        out = self.bn3(self.conv3(torch.cat(outputs, 1)))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


@MODELS.register_module()
class Res2NetEncoder(BaseModule):
    """Res2Net-50/101 returning the four stages' features.

    The default is ``res2net50_v1b_26w_4s`` (the "v1b" variant: a deep stem of
    three 3x3 convs 3-32-32-64, and average pooling before the 1x1 projection
    of down-sampling shortcuts), 256/512/1024/2048 channels at strides
    4/8/16/32. ``deep_stem=False, avg_down=False`` is the original Res2Net-50
    26w x 4s (published: 25.70 M parameters with its 1000-class classifier,
    i.e. 23,651,880 without it).

    Args:
        depth (int): 50 or 101.
        base_width (int): Width w of one scale group at the first stage (26).
        scales (int): Number of groups s (4).
        deep_stem (bool): v1b stem (3 convs) instead of one 7x7 conv.
        avg_down (bool): v1b shortcut (AvgPool + 1x1 conv) instead of a
            strided 1x1 conv.
        pretrained (str, optional): Local ImageNet weight file (official
            ``res2net50_v1b_26w_4s-3cf99910.pth`` or timm's ``res2net50d`` for
            the v1b variant; ``res2net50_26w_4s-06e79181.pth`` or timm's
            ``res2net50_26w_4s`` otherwise); None = random initialisation.
        norm_eval (bool): Keep BatchNorm statistics frozen in training.
    """
    arch_settings = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}

    def __init__(self,
                 depth: int = 50,
                 base_width: int = 26,
                 scales: int = 4,
                 deep_stem: bool = True,
                 avg_down: bool = True,
                 pretrained: Optional[str] = None,
                 norm_eval: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if depth not in self.arch_settings:
            raise ValueError(f'Res2NetEncoder depth must be one of '
                             f'{sorted(self.arch_settings)}, got {depth}')
        self.depth = depth
        self.base_width = base_width
        self.scales = scales
        self.deep_stem = deep_stem
        self.avg_down = avg_down
        self.pretrained = pretrained
        self.norm_eval = norm_eval
        if deep_stem:
            self.conv1 = nn.Sequential(
                nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32),
                nn.ReLU(inplace=True), nn.Conv2d(32, 32, 3, 1, 1, bias=False),
                nn.BatchNorm2d(32), nn.ReLU(inplace=True),
                nn.Conv2d(32, 64, 3, 1, 1, bias=False))
        else:
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        in_channels = 64
        for index, num_blocks in enumerate(self.arch_settings[depth]):
            planes = 64 * 2**index
            stride = 1 if index == 0 else 2
            layer = self._make_layer(in_channels, planes, num_blocks, stride)
            self.add_module(f'layer{index + 1}', layer)
            in_channels = planes * Bottle2neck.expansion
        self.out_channels: Tuple[int, ...] = (256, 512, 1024, 2048)
        self.strides: Tuple[int, ...] = (4, 8, 16, 32)
        if pretrained is None:
            note_random_init(self, 'pretrained', self._expected_file())

    def _make_layer(self, in_channels: int, planes: int, num_blocks: int,
                    stride: int) -> nn.Sequential:
        out_channels = planes * Bottle2neck.expansion
        downsample = None
        if stride != 1 or in_channels != out_channels:
            if self.avg_down:
                downsample = nn.Sequential(
                    nn.AvgPool2d(stride, stride=stride, ceil_mode=True,
                                 count_include_pad=False),
                    nn.Conv2d(in_channels, out_channels, 1, bias=False),
                    nn.BatchNorm2d(out_channels))
            else:
                downsample = nn.Sequential(
                    nn.Conv2d(in_channels, out_channels, 1, stride=stride,
                              bias=False), nn.BatchNorm2d(out_channels))
        blocks = [
            Bottle2neck(in_channels, planes, stride, downsample,
                        self.base_width, self.scales, stage_block=True)
        ]
        blocks += [
            Bottle2neck(out_channels, planes, 1, None, self.base_width,
                        self.scales) for _ in range(1, num_blocks)
        ]
        return nn.Sequential(*blocks)

    def _expected_file(self) -> str:
        variant = 'v1b_' if self.deep_stem else ''
        name = f'{self.base_width}w_{self.scales}s'
        return (f'ImageNet Res2Net-{self.depth} {variant}{name} weights, e.g. '
                f'the official res2net{self.depth}_{variant}{name}-*.pth')

    def init_weights(self) -> None:
        if self.pretrained is not None:
            # fail before the (slow) random initialisation
            require_pretrained_file(self.pretrained, type(self).__name__,
                                    self._expected_file())
        super().init_weights()
        if self.init_cfg is None:
            # The official initialisation (Kaiming fan-out, BN 1/0).
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(
                        m.weight, mode='fan_out', nonlinearity='relu')
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)
        if self.pretrained is not None:
            load_pretrained_encoder(
                self, self.pretrained, owner=type(self).__name__,
                expected_file=self._expected_file())

    def train(self, mode: bool = True) -> 'Res2NetEncoder':
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        return self

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """(N, 3, H, W) -> four maps at strides 4, 8, 16 and 32."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        features = []
        for index in range(1, 5):
            x = getattr(self, f'layer{index}')(x)
            features.append(x)
        return tuple(features)
