from typing import Dict, Optional, Union

import torch
from mmengine.model import BaseModule
from torch import nn

from dunseg.registry import MODELS


@MODELS.register_module()
class StateMaskHead(BaseModule):
    """Read a mask out of one named tensor of the final unfolding state.

    For RPCANet the target image ``T_K`` is the mask logit map:
    ``score = sigmoid(T_K)``. The head has no parameters unless
    ``in_channels`` differs from 1, in which case a 1x1 conv maps the state to
    one logit channel.

    Args:
        state_key (str): Which state tensor holds the logits ('T').
        loss_decode (dict | list[dict]): Loss config(s) applied to
            ``(logits, gt_mask)``.
        in_channels (int): Channels of the state tensor.
        threshold (float): Score threshold for ``pred_mask``.
    """

    def __init__(self,
                 state_key: str = 'T',
                 loss_decode: Union[dict, list] = dict(type='SoftIoULoss'),
                 in_channels: int = 1,
                 threshold: float = 0.5,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.state_key = state_key
        self.threshold = threshold
        self.proj = (nn.Identity() if in_channels == 1 else nn.Conv2d(
            in_channels, 1, 1))
        configs = loss_decode if isinstance(loss_decode, list) else [
            loss_decode
        ]
        self.losses = nn.ModuleList(MODELS.build(cfg) for cfg in configs)

    def forward(self, state: Dict[str, torch.Tensor]) -> torch.Tensor:
        if self.state_key not in state:
            raise KeyError(f'StateMaskHead reads state "{self.state_key}" but '
                           f'the backbone returns {sorted(state)}; set '
                           'decode_head.state_key')
        return self.proj(state[self.state_key])

    def loss(self, logits: torch.Tensor,
             gt_mask: torch.Tensor) -> Dict[str, torch.Tensor]:
        losses = {}
        for loss_fn in self.losses:
            name = getattr(loss_fn, 'loss_name', type(loss_fn).__name__)
            value = loss_fn(logits, gt_mask)
            losses[name] = losses[name] + value if name in losses else value
        return losses

    def predict(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.sigmoid()
