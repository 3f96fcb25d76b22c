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

    def channel_weights(self, x: torch.Tensor) -> torch.Tensor:
        """The (N, C, 1, 1) weights the forward multiplies ``x`` by; a
        following linear layer can take them into its own weights instead
        (see :class:`~dunseg.models.layers.SingleOutputConv2d`)."""
        return self.excitation(x.mean(dim=(2, 3), keepdim=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.channel_weights(x)
