"""ISTA-style RPCA stage: learned low-pass background, soft-thresholded target.

Each stage k applies the classical RPCA splitting with one learned filter and
one learned threshold instead of dunseg's CNN operators:

    B^k = G^k * (D - T^{k-1})                (learned low-pass filter G^k)
    T^k = soft(D - B^k, λ^k)                 (shrinkage, λ^k learned)
    D^k = D                                  (observation kept fixed)
"""
import torch
import torch.nn.functional as F
from torch import nn

from dunseg.registry import MODELS


@MODELS.register_module()
class SoftThresholdRPCAStage(nn.Module):

    def __init__(self, kernel_size: int = 7, threshold_init: float = 0.05):
        super().__init__()
        self.background_filter = nn.Conv2d(
            1, 1, kernel_size, padding=kernel_size // 2, bias=False)
        nn.init.constant_(self.background_filter.weight, 1 / kernel_size**2)
        self.threshold = nn.Parameter(torch.tensor(threshold_init))

    def forward(self, state):
        D, T = state['D'], state['T']
        B = self.background_filter(D - T)
        residual = D - B
        T = torch.sign(residual) * F.relu(residual.abs() - self.threshold)
        return dict(B=B, T=T, D=D)
