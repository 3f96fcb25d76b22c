"""RPCANet and RPCANet+: deep unfolding of RPCA for infrared small targets.

- RPCANet: Wu, Zhang, Li, Huang, Peng, "RPCANet: Deep Unfolding RPCA Based
  Infrared Small Target Detection", WACV 2024 (arXiv 2311.00917); official
  code github.com/fengyiwu98/RPCANet (the WACV-era ``models/RPCANet.py``).
- RPCANet+ (code name L-RPCANet): Liu, Han, Xiu, Zhang, Liu,
  "Lightweight Deep Unfolding Networks with Enhanced Robustness for Infrared
  Small Target Detection", 2025 (arXiv 2509.08205); official code
  github.com/xianchaoxiu/L-RPCANet. Not the same model as RPCANet++ (Wu et
  al., arXiv 2508.04190).

Both share :class:`RPCAUnfolding`; :class:`RPCANet` and :class:`RPCANetPlus`
are its two published configurations.

An infrared image is modelled as ``D = B + T (+ N)``: a low-rank background B,
a sparse target image T and, for RPCANet+, a noise image N. Minimising

    L(B, T, N) = R(B) + λ S(T) + μ G(N) + α/2 ||D - B - T - N||_F^2

by alternating proximal-gradient steps and unrolling K iterations gives one
stage per iteration with these updates (RPCANet+ slides "Update B/T/N/D";
RPCANet, WACV 2024, Eqs. 6, 9 and 10 without N):

    B^k = x + W^k(x),            x = D^{k-1} - T^{k-1} - N^{k-1}   (BEM)
    T^k = x - ε^k H^k(x),        x = T^{k-1} + D^{k-1} - B^k - N^{k-1}   (TEM)
    N^k = x - σ^k F^k(x),        x = N^{k-1} + D^{k-1} - B^k - T^k   (NRM)
    D^k = M^k(B^k + T^k + N^k)                                            (IRM)

W, H, F, M are small CNNs (the learned proximal operators / gradients of the
regularisers), ε and σ learned step scalars initialised to 0.01, T^0 = N^0 = 0
and D^0 the input image. Weights are not shared across stages.

Where the official code differs from the paper:

- ``carry_noise_across_stages`` (default False): the official L-RPCANet code
  passes the same zero N to every stage, so N^k is used only inside stage k
  (for its own D^k). ``True`` carries N^k into stage k+1 as the equations
  above say. The released checkpoints were trained with ``False``.
- The RPCANet+ noise module's first conv is 3x3 while the background and
  target modules' first convs are 1x1 (``noise_in_kernel_size=3``).
"""
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from dunseg.registry import MODELS

from ..layers import SELayer, SingleOutputConv2d

State = Dict[str, torch.Tensor]


def _conv3x3(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, padding=1)


class ProximalCNN(nn.Module):
    """A single-channel-in, single-channel-out CNN used as a learned operator.

    ``body``: conv(1 -> width, ``in_kernel_size``) [+ BN] + ReLU, then
    ``num_layers`` x [conv3x3(width -> width) [+ BN] + ReLU], then optionally a
    conv3x3 ``width -> expand_channels`` (RPCANet+'s bottleneck-to-total
    channel mapping, no activation); ``se``: optional squeeze-and-excitation;
    ``head``: conv3x3 to one channel (:class:`SingleOutputConv2d`, an
    ``nn.Conv2d`` that is faster on CPU).
    """

    def __init__(self,
                 width: int,
                 num_layers: int,
                 in_kernel_size: int = 3,
                 with_bn: bool = True,
                 expand_channels: Optional[int] = None,
                 se_ratio: Optional[int] = None) -> None:
        super().__init__()
        layers: List[nn.Module] = [
            nn.Conv2d(1, width, in_kernel_size, padding=in_kernel_size // 2)
        ]
        for i in range(num_layers + 1):
            if with_bn:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU(inplace=True))
            if i < num_layers:
                layers.append(_conv3x3(width, width))
        out_channels = width
        if expand_channels is not None:
            layers.append(_conv3x3(width, expand_channels))
            out_channels = expand_channels
        self.body = nn.Sequential(*layers)
        self.se = (SELayer(out_channels, se_ratio) if se_ratio
                   else nn.Identity())
        self.head = SingleOutputConv2d(out_channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self._body(x)
        if isinstance(self.se, SELayer):
            # the SE weights go into the head's taps: the rescaled map is
            # never written (same result up to float rounding)
            return self.head(features, self.se.channel_weights(features))
        return self.head(self.se(features))

    def _body(self, x: torch.Tensor) -> torch.Tensor:
        """``self.body(x)``; in eval mode each conv + BatchNorm pair runs as
        one conv with the BatchNorm folded in, which saves a pass over the
        map (same result up to float rounding). Modules with forward hooks
        (MAC counters, feature probes) are called as they are, since the
        folded pair bypasses them."""
        if self.training or _hooks_observe(self.body):
            return self.body(x)
        layers = list(self.body)
        index = 0
        while index < len(layers):
            layer = layers[index]
            following = (layers[index + 1]
                         if index + 1 < len(layers) else None)
            if (type(layer) is nn.Conv2d
                    and type(following) is nn.BatchNorm2d
                    and following.affine
                    and following.running_var is not None):
                x = F.conv2d(x, *_fold_batch_norm(layer, following),
                             layer.stride, layer.padding, layer.dilation,
                             layer.groups)
                index += 2
            else:
                x = layer(x)
                index += 1
        return x


def _hooks_observe(module: nn.Module) -> bool:
    """Whether a forward hook watches ``module`` or any module in it."""
    hooks = nn.modules.module
    if hooks._global_forward_hooks or hooks._global_forward_pre_hooks:
        return True
    return any(m._forward_hooks or m._forward_pre_hooks
               for m in module.modules())


def _fold_batch_norm(conv: nn.Conv2d, norm: nn.BatchNorm2d):
    """Weight and bias of ``norm(conv(x))`` as one convolution (eval)."""
    scale = norm.weight * torch.rsqrt(norm.running_var + norm.eps)
    weight = conv.weight * scale.view(-1, 1, 1, 1)
    bias = -norm.running_mean if conv.bias is None else (conv.bias -
                                                         norm.running_mean)
    return weight, bias * scale + norm.bias


class BackgroundModule(nn.Module):
    """BEM / SEBEM: ``B^k = x + W^k(x)`` with ``x = D - T - N``."""

    def __init__(self, operator: ProximalCNN) -> None:
        super().__init__()
        self.operator = operator

    def forward(self, D, T, N=None):
        x = D - T if N is None else D - T - N
        return x + self.operator(x)


class TargetModule(nn.Module):
    """TEM / SETEM: ``T^k = x - ε^k H^k(x)`` with ``x = T + D - B - N``."""

    def __init__(self, operator: ProximalCNN, step_init: float = 0.01) -> None:
        super().__init__()
        self.operator = operator
        self.epsilon = nn.Parameter(torch.tensor([step_init]))

    def forward(self, D, B, T, N=None):
        x = T + D - B if N is None else T + D - B - N
        return x - self.epsilon * self.operator(x)


class NoiseModule(nn.Module):
    """NRM / SENRM: ``N^k = x - σ^k F^k(x)`` with ``x = N + D - B - T``."""

    def __init__(self, operator: ProximalCNN, step_init: float = 0.01) -> None:
        super().__init__()
        self.operator = operator
        self.sigma = nn.Parameter(torch.tensor([step_init]))

    def forward(self, D, B, T, N):
        x = N + D - B - T
        return x - self.sigma * self.operator(x)


class MergeModule(nn.Module):
    """IRM / SEIRM: ``D^k = M^k(B^k + T^k + N^k)`` (no residual, as coded)."""

    def __init__(self, operator: ProximalCNN) -> None:
        super().__init__()
        self.operator = operator

    def forward(self, B, T, N=None):
        return self.operator(B + T if N is None else B + T + N)


class RPCAStage(nn.Module):
    """One unrolled iteration: the B, T, (N) and D updates in that order."""

    def __init__(self, background: BackgroundModule, target: TargetModule,
                 merge: MergeModule,
                 noise: Optional[NoiseModule] = None) -> None:
        super().__init__()
        self.background = background
        self.target = target
        self.noise = noise
        self.merge = merge

    def forward(self, state: State) -> State:
        D, T, N = state['D'], state['T'], state.get('N')
        B = self.background(D, T, N)
        T_next = self.target(D, B, T, N)
        if self.noise is None:
            return dict(B=B, T=T_next, D=self.merge(B, T_next))
        N_next = self.noise(D, B, T_next, N)
        return dict(B=B, T=T_next, N=N_next, D=self.merge(B, T_next, N_next))


@MODELS.register_module()
class RPCAUnfolding(BaseModule):
    """RPCA unfolding backbone: K stages over the state (B, T, [N], D).

    Args:
        num_stages (int): K, the number of unrolled iterations. Default 6.
        channels (int): Width of the CNN operators ("total channel").
            Default 32.
        bottleneck_channels (int, optional): RPCANet+'s bottleneck width b of
            the background, target and noise operators (1x1/3x3 conv to b,
            3x3 convs at b, 3x3 conv b -> ``channels``). None = RPCANet
            (operators at full width).
        background_layers (int): Middle conv layers of W (``llayers``).
        target_layers (int): Middle conv layers of H (``slayers``).
        merge_layers (int): Middle conv layers of M (``mlayers``).
        noise_layers (int, optional): Middle conv layers of F (``rlayers``);
            None = no noise component (RPCANet).
        se_ratio (int, optional): SE reduction ratio in every operator
            (RPCANet+: 16); None = no SE.
        noise_in_kernel_size (int): First-conv kernel of F (3, official).
        step_init (float): Initial ε and σ.
        carry_noise_across_stages (bool): Paper (True) or official-code
            (False) handling of N between stages, see the module docstring.
        stage_cfg (dict, optional): Build every stage from this config
            instead (a registered module whose ``forward(state)`` maps
            ``{'D', 'T', ['N']}`` to ``{'B', 'T', ['N'], 'D'}``); the
            operator arguments above are then unused. This is how a new
            stage design plugs into the RPCA skeleton (docs/add_component.md).
        init_cfg (dict, optional): MMEngine init config. Defaults to Xavier
            normal on convs, BN weight 1 / bias 0 (official).
    """

    def __init__(self,
                 num_stages: int = 6,
                 channels: int = 32,
                 bottleneck_channels: Optional[int] = None,
                 background_layers: int = 3,
                 target_layers: int = 6,
                 merge_layers: int = 3,
                 noise_layers: Optional[int] = None,
                 se_ratio: Optional[int] = None,
                 noise_in_kernel_size: int = 3,
                 step_init: float = 0.01,
                 carry_noise_across_stages: bool = False,
                 stage_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if init_cfg is None:
            init_cfg = [
                dict(type='Xavier', layer='Conv2d', distribution='normal',
                     bias_prob=None, override=None),
                dict(type='Constant', layer='BatchNorm2d', val=1, bias=0)
            ]
        super().__init__(init_cfg=init_cfg)
        if num_stages < 1:
            raise ValueError(f'num_stages must be >= 1, got {num_stages}')
        self.num_stages = num_stages
        self.with_noise = noise_layers is not None
        self.carry_noise_across_stages = carry_noise_across_stages

        b = bottleneck_channels
        width = channels if b is None else b
        expand = None if b is None else channels
        # RPCANet+ shrinks the input conv of W and H to 1x1; RPCANet uses 3x3.
        in_kernel = 3 if b is None else 1

        def make_stage() -> RPCAStage:
            background = BackgroundModule(
                ProximalCNN(width, background_layers, in_kernel, True, expand,
                            se_ratio))
            target = TargetModule(
                ProximalCNN(width, target_layers, in_kernel, False, expand,
                            se_ratio), step_init)
            noise = None
            if self.with_noise:
                noise = NoiseModule(
                    ProximalCNN(width, noise_layers, noise_in_kernel_size,
                                False, expand, se_ratio), step_init)
            merge = MergeModule(
                ProximalCNN(channels, merge_layers, 3, True, None, se_ratio))
            return RPCAStage(background, target, merge, noise)

        if stage_cfg is not None:
            self.stages = nn.ModuleList(
                MODELS.build(stage_cfg) for _ in range(num_stages))
        else:
            self.stages = nn.ModuleList(
                make_stage() for _ in range(num_stages))

    def init_state(self, inputs: torch.Tensor) -> State:
        zeros = torch.zeros_like(inputs)
        state = dict(D=inputs, T=zeros)
        if self.with_noise:
            state['N'] = zeros
        return state

    def forward(self, inputs: torch.Tensor, prior=None) -> List[State]:
        """Run all stages on ``inputs`` (N, 1, H, W).

        Args:
            inputs (Tensor): The observed image D.
            prior: Unused; accepted so every unfolding backbone shares one
                call signature.

        Returns:
            list[dict]: Every stage's state ``{'B', 'T', ['N'], 'D'}``; the
            last entry is the final state.
        """
        if inputs.dim() != 4 or inputs.shape[1] != 1:
            raise ValueError(
                'RPCA unfolding expects single-channel images of shape '
                f'(N, 1, H, W), got {tuple(inputs.shape)}; load images with '
                "color_type='grayscale'")
        state = self.init_state(inputs)
        states = []
        for stage in self.stages:
            out = stage(state)
            states.append(out)
            missing = {'B', 'T', 'D'} - set(out)
            if missing:
                raise KeyError(f'{type(stage).__name__} returned '
                               f'{sorted(out)}; an RPCA stage must return B, '
                               'T and D')
            state = dict(D=out['D'], T=out['T'])
            if self.with_noise and 'N' in out:
                state['N'] = (out['N'] if self.carry_noise_across_stages else
                              torch.zeros_like(out['N']))
        return states


@MODELS.register_module()
class RPCANet(RPCAUnfolding):
    """RPCANet (Wu et al., WACV 2024): K=6, 32 channels, no N, no SE.

    679,896 parameters with the defaults.
    """

    def __init__(self, num_stages: int = 6, channels: int = 32, **kwargs):
        super().__init__(num_stages=num_stages, channels=channels, **kwargs)


@MODELS.register_module()
class RPCANetPlus(RPCAUnfolding):
    """RPCANet+ (= L-RPCANet, Xiu et al. 2025): SE, bottleneck, noise N.

    Defaults are the paper's configuration (K=6, b=4, total 32 channels,
    noise layers 6: 215,916 parameters, 35,986 per stage). The released
    NUDT-SIRST checkpoint uses ``bottleneck_channels=16`` (475,188) and the
    IRSTD-1k one additionally ``noise_layers=3`` (433,428).
    """

    def __init__(self,
                 num_stages: int = 6,
                 channels: int = 32,
                 bottleneck_channels: int = 4,
                 noise_layers: int = 6,
                 se_ratio: int = 16,
                 **kwargs):
        super().__init__(
            num_stages=num_stages,
            channels=channels,
            bottleneck_channels=bottleneck_channels,
            noise_layers=noise_layers,
            se_ratio=se_ratio,
            **kwargs)
