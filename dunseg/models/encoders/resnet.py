"""ResNet image encoder: the four residual stages' features for COD models."""
from typing import Optional, Tuple

import torch
from mmengine.model import BaseModule

from dunseg.registry import MODELS
from dunseg.utils.random_init import note_random_init

from .pretrained import load_pretrained_encoder, require_pretrained_file

_IMAGENET_FILES = {
    18: "torchvision's resnet18-f37072fd.pth",
    34: "torchvision's resnet34-b627a593.pth",
    50: "ImageNet ResNet-50 weights: torchvision's resnet50-0676ba61.pth "
        "(or resnet50-11ad3fa6.pth) or timm's resnet50 pytorch_model.bin / "
        "model.safetensors",
    101: "torchvision's resnet101-63fe2227.pth",
}


@MODELS.register_module()
class ResNetEncoder(BaseModule):
    """ResNet (He et al., CVPR 2016) returning C2-C5.

    Built on mmsegmentation's ``ResNet`` (``style='pytorch'``: the stride sits
    in the 3x3 conv, as in torchvision and timm), whose parameter names equal
    torchvision's and timm's, so their ImageNet files load strictly once the
    classifier ``fc.*`` is dropped. ResNet-50 gives 256/512/1024/2048 channels
    at strides 4/8/16/32 and has 23,508,032 parameters (RUN's ``timm``
    ``features_only`` encoder).

    Args:
        depth (int): 18, 34, 50, 101 or 152.
        base_channels (int): Width of the stem and first stage (64 for the
            ImageNet networks; smaller for tiny models trained from scratch).
        pretrained (str, optional): Local ImageNet weight file, loaded by
            :meth:`init_weights`; None = random initialisation.
        norm_cfg (dict): Normalisation layers, e.g. ``dict(type='SyncBN')``.
        norm_eval (bool): Keep BatchNorm statistics frozen in training.
        frozen_stages (int): Stages (0 = stem) whose weights are frozen;
            -1 freezes nothing.
    """

    def __init__(self,
                 depth: int = 50,
                 base_channels: int = 64,
                 pretrained: Optional[str] = None,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 norm_eval: bool = False,
                 frozen_stages: int = -1,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        # mmseg.models pulls in every mmseg component (about 3 s); import it
        # only when an encoder is built.
        from mmseg.models.backbones import ResNet
        self.depth = depth
        self.pretrained = pretrained
        self.resnet = ResNet(
            depth=depth,
            in_channels=3,
            stem_channels=base_channels,
            base_channels=base_channels,
            out_indices=(0, 1, 2, 3),
            style='pytorch',
            norm_cfg=norm_cfg,
            norm_eval=norm_eval,
            frozen_stages=frozen_stages)
        expansion = 1 if depth in (18, 34) else 4
        self.out_channels: Tuple[int, ...] = tuple(
            base_channels * 2**i * expansion for i in range(4))
        self.strides: Tuple[int, ...] = (4, 8, 16, 32)
        if pretrained is None and base_channels == 64:
            # the ImageNet width: a paper recipe that lacks its weights file
            note_random_init(
                self, 'pretrained',
                _IMAGENET_FILES.get(depth, f'ImageNet ResNet-{depth}'))

    def init_weights(self) -> None:
        expected_file = _IMAGENET_FILES.get(
            self.depth, f'ImageNet ResNet-{self.depth} weights')
        if self.pretrained is not None:
            # fail before the (slow) random initialisation
            require_pretrained_file(self.pretrained, type(self).__name__,
                                    expected_file)
        super().init_weights()
        if self.pretrained is not None:
            load_pretrained_encoder(
                self.resnet, self.pretrained, owner=type(self).__name__,
                expected_file=expected_file)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """(N, 3, H, W) -> four maps at strides 4, 8, 16 and 32."""
        return tuple(self.resnet(x))
