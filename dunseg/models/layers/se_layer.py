import torch
from torch import nn


class SELayer(nn.Module):
    """Squeeze-and-excitation channel attention (Hu et al., CVPR 2018).

    ``x * sigmoid(W2 relu(W1 gap(x)))`` with 1x1 convs (with bias), as in the
    RPCANet+ (L-RPCANet) SE-modules.

    Args:
        channels (int): Number of input and output channels.
        ratio (int): Reduction ratio of the hidden width.
    """

    def __init__(self, channels: int, ratio: int = 16) -> None:
        super().__init__()
        hidden = max(channels // ratio, 1)
        self.excitation = nn.Sequential(
            nn.Conv2d(channels, hidden, 1), nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.excitation(x.mean(dim=(2, 3), keepdim=True))
