"""RUN's building blocks, also reused by NUN.

He et al., "RUN: Reversible Unfolding Network for Concealed Object
Segmentation", ICML 2025 (arXiv 2501.18783); official code
github.com/ChunmingHe/RUN, ``lib/Modules.py`` and ``lib/Network.py``. The
context, interaction, prior, edge and background modules of
:mod:`dunseg.models.unfolding.run`, which RUN inherits mostly from FEDER
(He et al., CVPR 2023) and SINet-V2 (Fan et al., TPAMI 2022);
:mod:`dunseg.models.unfolding.nun` reuses them. Shapes and parameter
counts equal the official modules'; class names say what a block does, the
official name is given in each docstring. Modules the official code
registers but never calls (the wavelet/guided-filter branch of GCM3, TFD in
REU6, the frequency blocks of ProcessBlock, CAF's ``conv1``) are left out:
they change no output.
"""
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from dunseg.registry import MODELS

from .rpcanet import _hooks_observe  # the layer-folding guard both share


class ConvBNReLU(nn.Sequential):
    """Conv (no bias) + BatchNorm (+ ReLU); the official ``BasicConv2d``."""

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size,
                 stride: int = 1,
                 padding=0,
                 dilation: int = 1,
                 relu: bool = True) -> None:
        layers = [
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding,
                      dilation, bias=False),
            nn.BatchNorm2d(out_channels)
        ]
        if relu:
            layers.append(nn.ReLU())
        super().__init__(*layers)


class TextureEnhance(nn.Module):
    """Multi-receptive-field context block (RFB-like); the official ``ETM``.

    Four branches: 1x1; and for k = 3, 5, 7: 1x1 -> 1xk -> kx1 -> 3x3 with
    dilation k. Their concatenation goes through a 3x3 conv and is added to a
    1x1 projection of the input: ``relu(conv_cat(cat) + conv_res(x))``.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.branch0 = ConvBNReLU(in_channels, out_channels, 1)
        for index, k in enumerate((3, 5, 7), start=1):
            self.add_module(
                f'branch{index}',
                nn.Sequential(
                    ConvBNReLU(in_channels, out_channels, 1),
                    ConvBNReLU(out_channels, out_channels, (1, k),
                               padding=(0, k // 2)),
                    ConvBNReLU(out_channels, out_channels, (k, 1),
                               padding=(k // 2, 0)),
                    ConvBNReLU(out_channels, out_channels, 3, padding=k,
                               dilation=k)))
        self.conv_cat = ConvBNReLU(4 * out_channels, out_channels, 3,
                                   padding=1)
        self.conv_res = ConvBNReLU(in_channels, out_channels, 1)
        self.relu = nn.ReLU(True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [getattr(self, f'branch{i}')(x) for i in range(4)]
        return self.relu(self.conv_cat(torch.cat(branches, 1)) +
                         self.conv_res(x))


@MODELS.register_module()
class ContextModule(nn.Module):
    """One :class:`TextureEnhance` per encoder level, mapping the encoder's
    channels to ``out_channels``; the official ``GCM3`` without its unused
    wavelet/guided-filter outputs (which also restricted the input size to
    multiples that keep every DWT input even and the guided filter's maps
    larger than 5 px: 352 x 352 failed)."""

    def __init__(self, in_channels: Sequence[int], out_channels: int) -> None:
        super().__init__()
        self.levels = nn.ModuleList(
            TextureEnhance(c, out_channels) for c in in_channels)

    def forward(self, features: Sequence[torch.Tensor]
                ) -> List[torch.Tensor]:
        if len(features) != len(self.levels):
            raise ValueError(f'ContextModule expects {len(self.levels)} '
                             f'feature maps, got {len(features)}')
        return [level(f) for level, f in zip(self.levels, features)]


class IntraLevelAggregation(nn.Module):
    """Scale-invariant aggregation within one level; the official ``IAF``
    (``IntraLayerFeatureAggregation``), shared by all levels.

    ``x' = conv1x1(x)``; ``f3, f5 = conv3(x'), conv5(x')``; on their
    concatenation a 3x3 and a 5x5 conv whose product is ``f35``;
    ``out = x' + CRB(cat[f3, f5, f35])`` with CRB = conv3x3 -> ReLU -> BN.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        if in_channels != out_channels:
            # The official 3x3/5x5 convs take in_channels but are applied to
            # the 1x1-projected map, so the module only works with equal sizes.
            raise ValueError('IntraLevelAggregation needs in_channels == '
                             f'out_channels, got {in_channels}, '
                             f'{out_channels}')
        self.conv1 = nn.Conv2d(in_channels, out_channels, 1)
        self.conv3 = nn.Conv2d(in_channels, in_channels, 3, padding=1)
        self.conv5 = nn.Conv2d(in_channels, in_channels, 5, padding=2)
        self.conv3_2 = nn.Conv2d(in_channels * 2, in_channels, 3, padding=1)
        self.conv5_2 = nn.Conv2d(in_channels * 2, in_channels, 5, padding=2)
        self.crb = nn.Sequential(
            nn.Conv2d(out_channels * 3, out_channels, 3, padding=1),
            nn.ReLU(inplace=True), nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        f3, f5 = self.conv3(x), self.conv5(x)
        both = torch.cat([f3, f5], 1)
        f35 = self.conv3_2(both) * self.conv5_2(both)
        return x + self.crb(torch.cat([f3, f5, f35], 1))


class ChannelGate(nn.Module):
    """CBAM channel attention: ``sigmoid(mlp(avgpool x) + mlp(maxpool x))``."""

    def __init__(self, channels: int, ratio: int = 16) -> None:
        super().__init__()
        self.fc = nn.Sequential(
            nn.Conv2d(channels, channels // ratio, 1, bias=False), nn.ReLU(),
            nn.Conv2d(channels // ratio, channels, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        avg = self.fc(F.adaptive_avg_pool2d(x, 1))
        peak = self.fc(F.adaptive_max_pool2d(x, 1))
        return torch.sigmoid(avg + peak)


class SpatialGate(nn.Module):
    """CBAM spatial attention: ``sigmoid(conv7x7(cat[mean_c x, max_c x]))``."""

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat(
            [x.mean(1, keepdim=True),
             x.amax(1, keepdim=True)], 1)
        return torch.sigmoid(self.conv(pooled))


class CrossLevelAggregation(nn.Module):
    """Top-down fusion of a coarser level into a finer one; the official
    ``CAF`` (``ContextualFeatureAggregation``), shared by all levels.

    ``c = conv3x3(cat[up2(coarse), fine])``, ``c = c * CA(c)``,
    ``c = c * SA(c)``, ``out = conv1x1(cat[fine, c])``. The coarse map is
    resized to the fine map's size (the official fixed x2 upsampling needs
    sizes divisible by 32; for those the two agree).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channel_attention = ChannelGate(channels)
        self.spatial_attention = SpatialGate()
        self.conv3 = nn.Conv2d(channels * 2, channels, 3, padding=1)
        self.conv_final = nn.Conv2d(channels * 2, channels, 1)

    def forward(self, coarse: torch.Tensor,
                fine: torch.Tensor) -> torch.Tensor:
        coarse = F.interpolate(
            coarse, size=fine.shape[2:], mode='bilinear', align_corners=True)
        fused = self.conv3(torch.cat([coarse, fine], 1))
        fused = fused * self.channel_attention(fused)
        fused = fused * self.spatial_attention(fused)
        return self.conv_final(torch.cat([fine, fused], 1))


class PositionAttention(nn.Module):
    """Self-attention over positions (DANet's PAM):
    ``out = γ · V softmax(QᵀK)ᵀ + x`` with γ initialised to 0."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.query_conv = nn.Conv2d(channels, channels // 4, 1)
        self.key_conv = nn.Conv2d(channels, channels // 4, 1)
        self.value_conv = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        query = self.query_conv(x).flatten(2).transpose(1, 2)
        key = self.key_conv(x).flatten(2)
        attention = torch.softmax(torch.bmm(query, key), dim=-1)
        value = self.value_conv(x).flatten(2)
        out = torch.bmm(value, attention.transpose(1, 2)).view(n, c, h, w)
        return self.gamma * out + x


@MODELS.register_module()
class GlobalPriorModule(nn.Module):
    """Coarse mask logits from the deepest encoder features; the official
    ``GPM``: ASPP (image pooling + 1x1 + three dilated 3x3, ``depth``
    channels each) -> conv3x3 to 256 + position attention -> conv3x3 to 64,
    BN, PReLU, Dropout2d(0.1), conv1x1 to one channel.

    All convs are initialised N(0, 0.01) and BatchNorms to (1, 0), as coded.
    The image-pooling branch normalises a 1x1 map, so training needs more
    than one image per batch (as in the official code).
    """

    def __init__(self,
                 in_channels: int = 2048,
                 depth: int = 128,
                 dilations: Sequence[int] = (6, 12, 18),
                 head_channels: int = 256) -> None:
        super().__init__()
        self.branch_main = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), ConvBNReLU(in_channels, depth, 1))
        self.branch0 = ConvBNReLU(in_channels, depth, 1)
        for index, dilation in enumerate(dilations, start=1):
            self.add_module(
                f'branch{index}',
                ConvBNReLU(in_channels, depth, 3, padding=dilation,
                           dilation=dilation))
        self.num_branches = 1 + len(dilations)
        self.head = nn.Sequential(
            ConvBNReLU(depth * (self.num_branches + 1), head_channels, 3,
                       padding=1), PositionAttention(head_channels))
        self.out = nn.Sequential(
            nn.Conv2d(head_channels, 64, 3, padding=1), nn.BatchNorm2d(64),
            nn.PReLU(), nn.Dropout2d(p=0.1), nn.Conv2d(64, 1, 1))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.data.normal_(0, 0.01)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.data.fill_(1)
                m.bias.data.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = F.interpolate(
            self.branch_main(x), size=x.shape[2:], mode='bilinear',
            align_corners=True)
        branches = [pooled] + [
            getattr(self, f'branch{i}')(x) for i in range(self.num_branches)
        ]
        return self.out(self.head(torch.cat(branches, 1)))


class GatedODEBlock(nn.Module):
    """Second-order Runge-Kutta-like refinement; the official ``ODE``:
    ``f1 = F1(x)``, ``f2 = F2(f1 + x)``, ``α = gate(cat[f1, f2])``,
    ``out = x + α f1 + (1 − α) f2`` with F = conv3x3-ReLU-conv3x3 and the gate
    a shared two-layer 1x1 MLP on the average- and max-pooled maps."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.F1 = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1))
        self.F2 = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1))
        self.gate_fc1 = nn.Conv2d(channels * 2, channels, 1, bias=False)
        self.gate_fc2 = nn.Conv2d(channels, 1, 1, bias=False)

    def _gate(self, x: torch.Tensor) -> torch.Tensor:
        def mlp(pooled):
            return self.gate_fc2(F.relu(self.gate_fc1(pooled)))

        return torch.sigmoid(
            mlp(F.adaptive_avg_pool2d(x, 1)) +
            mlp(F.adaptive_max_pool2d(x, 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f1 = self.F1(x)
        f2 = self.F2(f1 + x)
        alpha = self._gate(torch.cat([f1, f2], 1))
        return x + f1 * alpha + f2 * (1 - alpha)


def edge_enhance(edge: torch.Tensor) -> torch.Tensor:
    """``clamp(e − |∇e|, 0, 1)`` with forward differences, the vertical one
    written first and the horizontal one then taken on that result (as the
    official in-place code does)."""
    gradient = edge.clone()
    gradient[:, :, :-1, :] = (gradient[:, :, :-1, :] -
                              gradient[:, :, 1:, :]).abs()
    gradient[:, :, :, :-1] = (gradient[:, :, :, :-1] -
                              gradient[:, :, :, 1:]).abs()
    return (edge - gradient).clamp(0, 1)


@MODELS.register_module()
class ReverseEdgeUnit(nn.Module):
    """One level of the mask read-out with reverse attention and an edge
    branch; the official ``REU6`` (four of them form ``REM11``).

    With the previous (coarser) mask logits ``P`` resized to the features
    ``x`` (C channels)::

        y   = conv1x1(cat[x, P expanded to C channels])
        o   = ODE(y)
        E   = edge_enhance(out_B(o))                       (edge, 2x size)
        M   = out_y(cat[(1 − σ(P)) ⊙ x, o]) + P             (reverse attention)

    out_B = deconv3x3 stride 2 -> conv3x3 -> conv3x3 to 1 channel;
    out_y = conv3x3 (2C -> mid) -> conv3x3 (mid -> mid/2) -> conv3x3 to 1.
    """

    def __init__(self, channels: int, mid_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels * 2, channels, 1)
        self.out_y = nn.Sequential(
            ConvBNReLU(channels * 2, mid_channels, 3, padding=1),
            ConvBNReLU(mid_channels, mid_channels // 2, 3, padding=1),
            nn.Conv2d(mid_channels // 2, 1, 3, padding=1))
        self.out_B = nn.Sequential(
            nn.ConvTranspose2d(channels, mid_channels // 2, 3, stride=2,
                               padding=1, output_padding=1, bias=False),
            nn.BatchNorm2d(mid_channels // 2), nn.ReLU(),
            ConvBNReLU(mid_channels // 2, mid_channels // 4, 3, padding=1),
            nn.Conv2d(mid_channels // 4, 1, 3, padding=1))
        self.ode = GatedODEBlock(channels)

    def forward(self, x: torch.Tensor, prior: torch.Tensor
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        prior = F.interpolate(
            prior, size=x.shape[2:], mode='bilinear', align_corners=True)
        expanded = prior.expand(-1, x.shape[1], -1, -1)
        ode_out = self.ode(self.conv(torch.cat([x, expanded], 1)))
        edge = edge_enhance(self.out_B(ode_out))
        reverse = (1 - torch.sigmoid(prior)).expand(-1, x.shape[1], -1, -1)
        mask = self.out_y(torch.cat([reverse * x, ode_out], 1)) + prior
        return mask, edge


def _as_3x3(weight: torch.Tensor) -> torch.Tensor:
    """A 1x1 kernel as the centre of a 3x3 one (same output at padding 1),
    so a 1x1 and a 3x3 conv of the same input run as one conv."""
    return F.pad(weight, (1, 1, 1, 1))


class HalfInstanceNormBlock(nn.Module):
    """conv3x3 -> instance-norm on half the channels -> LeakyReLU(0.1) ->
    conv3x3 -> LeakyReLU, plus a 1x1 identity projection (HINet's block);
    the official ``UNetConvBlock_fre``.

    The first conv and the identity read the same input; they run as one
    3x3 conv (the 1x1 kernel as its centre tap), which halves the calls
    of this block's most frequent small convolution.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.identity = nn.Conv2d(in_channels, out_channels, 1)
        self.conv_1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.conv_2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.norm = nn.InstanceNorm2d(out_channels // 2, affine=True)
        self.relu = nn.LeakyReLU(0.1)

    def first_weights(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """Weight and bias of ``conv_1`` and ``identity`` as one 3x3 conv
        (``conv_1``'s channels first)."""
        return (torch.cat([self.conv_1.weight,
                           _as_3x3(self.identity.weight)]),
                torch.cat([self.conv_1.bias, self.identity.bias]))

    def finish(self, out: torch.Tensor,
               identity: torch.Tensor) -> torch.Tensor:
        """The block after its first conv: ``out`` = conv_1(x)."""
        half = self.norm.num_features
        out = self.relu(torch.cat([self.norm(out[:, :half]),
                                   out[:, half:]], 1))
        return self.relu(self.conv_2(out)) + identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _hooks_observe(self):  # MAC counters must see every conv
            out = self.conv_1(x)
            first, second = torch.chunk(out, 2, dim=1)
            out = self.relu(torch.cat([self.norm(first), second], 1))
            return self.relu(self.conv_2(out)) + self.identity(x)
        weight, bias = self.first_weights()
        both = F.conv2d(x, weight, bias, padding=1)
        width = self.conv_1.out_channels
        return self.finish(both[:, :width], both[:, width:])


class InvertibleCoupling(nn.Module):
    """Affine coupling block (``InvBlock`` + the residual of ``SpaBlock``).

    With ``x = [x1, x2]`` split at ``channels // 2``::

        y1 = x1 + F(x2)
        s  = clamp · (2 σ(H(y1)) − 1)
        y2 = x2 ⊙ exp(s) + G(y1)
        out = x + [y1, y2]

    G and H read the same y1: their first convs and identities run as one
    conv, and their second convs as one grouped conv.
    """

    def __init__(self, channels: int, clamp: float = 0.8) -> None:
        super().__init__()
        self.split1 = channels // 2
        self.split2 = channels - self.split1
        self.clamp = clamp
        self.F = HalfInstanceNormBlock(self.split2, self.split1)
        self.G = HalfInstanceNormBlock(self.split1, self.split2)
        self.H = HalfInstanceNormBlock(self.split1, self.split2)

    def _g_and_h(self, y1: torch.Tensor
                 ) -> Tuple[torch.Tensor, torch.Tensor]:
        """``G(y1), H(y1)`` with three convolutions instead of six."""
        g, h = self.G, self.H
        width = self.split2
        weight_g, bias_g = g.first_weights()
        weight_h, bias_h = h.first_weights()
        both = F.conv2d(y1, torch.cat([weight_g, weight_h]),
                        torch.cat([bias_g, bias_h]), padding=1)
        # channels: [G conv_1, G identity, H conv_1, H identity]
        half_g = g.norm.num_features
        half_h = h.norm.num_features
        hidden = torch.cat([
            g.norm(both[:, :half_g]), both[:, half_g:width],
            h.norm(both[:, 2 * width:2 * width + half_h]),
            both[:, 2 * width + half_h:3 * width]
        ], 1)
        hidden = g.relu(hidden)
        second = g.relu(F.conv2d(
            hidden, torch.cat([g.conv_2.weight, h.conv_2.weight]),
            torch.cat([g.conv_2.bias, h.conv_2.bias]), padding=1,
            groups=2))
        return (second[:, :width] + both[:, width:2 * width],
                second[:, width:] + both[:, 3 * width:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x[:, :self.split1], x[:, self.split1:]
        y1 = x1 + self.F(x2)
        if _hooks_observe(self):
            g_out, h_out = self.G(y1), self.H(y1)
        else:
            g_out, h_out = self._g_and_h(y1)
        scale = self.clamp * (torch.sigmoid(h_out) * 2 - 1)
        y2 = x2 * torch.exp(scale) + g_out
        return x + torch.cat([y1, y2], 1)


class CouplingFuse(nn.Module):
    """Coupling block + a parallel conv, merged by a conv, plus the input:
    ``out = x + merge(cat[c, conv(c)])`` with ``c = coupling(x)``; the
    official ``SpatialFuse`` (kernel 3) and ``ChannelFuse`` (kernel 1).

    With kernel 1 both convs are linear maps per pixel, so they run as
    their product, one 1x1 conv.
    """

    def __init__(self, channels: int, kernel_size: int) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.spatial_process = InvertibleCoupling(channels)
        self.frequency_spatial = nn.Conv2d(channels, channels, kernel_size,
                                           padding=pad)
        self.cat = nn.Conv2d(2 * channels, channels, kernel_size, padding=pad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        coupled = self.spatial_process(x)
        if self.cat.kernel_size == (1, 1) and not _hooks_observe(self):
            channels = coupled.shape[1]
            merge = self.cat.weight[:, :, 0, 0]
            parallel = self.frequency_spatial.weight[:, :, 0, 0]
            direct, through = merge[:, :channels], merge[:, channels:]
            weight = direct + through @ parallel
            bias = self.cat.bias + through @ self.frequency_spatial.bias
            merged = F.conv2d(coupled, weight[:, :, None, None], bias)
        else:
            merged = self.cat(
                torch.cat([coupled, self.frequency_spatial(coupled)], 1))
        return merged + x


class CouplingBlock(nn.Sequential):
    """``ProcessBlock``: a 3x3 then a 1x1 :class:`CouplingFuse`."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.spa = CouplingFuse(channels, 3)
        self.cha = CouplingFuse(channels, 1)


@MODELS.register_module()
class InvertibleCouplingUNet(nn.Module):
    """RUN's background proximal network (ROBE); the official
    ``InteractNet(inchannel=7, nc=8, outchannel=3)`` around ``ProcessNet``.

    ``extract`` (1x1, in -> nc), a 3-level U-net of :class:`CouplingBlock` s
    (widths nc, 2nc, 3nc; 2x2 stride-2 convs down, bilinear resize + concat +
    1x1 transposed conv up) with a global residual, ``recons`` (1x1 nc -> out).
    """

    def __init__(self,
                 in_channels: int = 7,
                 channels: int = 8,
                 out_channels: int = 3) -> None:
        super().__init__()
        nc = channels
        self.extract = nn.Conv2d(in_channels, nc, 1)
        self.conv0 = nn.Conv2d(nc, nc, 3, padding=1)
        self.conv1 = CouplingBlock(nc)
        self.downsample1 = nn.Conv2d(nc, nc * 2, 2, stride=2)
        self.conv2 = CouplingBlock(nc * 2)
        self.downsample2 = nn.Conv2d(nc * 2, nc * 3, 2, stride=2)
        self.conv3 = CouplingBlock(nc * 3)
        self.up1 = nn.ConvTranspose2d(nc * 5, nc * 2, 1)
        self.conv4 = CouplingBlock(nc * 2)
        self.up2 = nn.ConvTranspose2d(nc * 3, nc, 1)
        self.conv5 = CouplingBlock(nc)
        self.convout = nn.Conv2d(nc, nc, 3, padding=1)
        self.recons = nn.Conv2d(nc, out_channels, 1)

    @staticmethod
    def _resize_to(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=ref.shape[2:], mode='bilinear')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if (h // 4) * (w // 4) < 2:
            # instance normalisation of the third level needs two pixels,
            # in evaluation as in training
            raise ValueError(
                f'{type(self).__name__} (the RUN/NUN background network): a '
                f'{h}x{w} input is too small for this model; its third level '
                '(H/4 x W/4) is instance-normalised and needs at least 2 '
                'pixels, e.g. an 8x8 input')
        feat = self.extract(x)
        level1 = self.conv1(self.conv0(feat))
        level2 = self.conv2(self.downsample1(level1))
        level3 = self.conv3(self.downsample2(level2))
        up = self.conv4(
            self.up1(torch.cat([self._resize_to(level3, level2), level2], 1)))
        up = self.conv5(
            self.up2(torch.cat([self._resize_to(up, level1), level1], 1)))
        return self.recons(self.convout(up) + feat)


class LargeFieldCAB(nn.Module):
    """RUN's channel-attention block of the large-field VSS block (its
    ``CAB(is_light_sr=True)``): conv1x1 (C -> C/2) -> depthwise 3x3 -> GELU
    -> conv1x1 (C/2 -> C) -> depthwise 3x3 with dilation 2 -> RCAN channel
    attention (squeeze 30). MambaIR's light CAB is a plain compressed 3x3
    pair instead; the dilated depthwise conv is what widens this block's
    receptive field."""

    def __init__(self, num_feat: int, compress_ratio: int = 2,
                 squeeze_factor: int = 30) -> None:
        super().__init__()
        from ..layers.vss import ChannelAttention
        hidden = num_feat // compress_ratio
        self.cab = nn.Sequential(
            nn.Conv2d(num_feat, hidden, 1),
            nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden),
            nn.GELU(),
            nn.Conv2d(hidden, num_feat, 1),
            nn.Conv2d(num_feat, num_feat, 3, padding=2, groups=num_feat,
                      dilation=2),
            ChannelAttention(num_feat, squeeze_factor))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cab(x)
