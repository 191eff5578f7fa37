"""Non-local block of AGW (Wang et al., CVPR 2018, dot-product form) as the community AGW code computes it."""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["NonLocalBlock"]


class NonLocalBlock(nn.Module):
    """``z = x + BN(W · (θ(x)ᵀ φ(x) / N) g(x))`` with N = h·w positions (dot-product affinity, no softmax).

    ``inter_channels`` is the width of θ, φ, g. The community AGW model uses 1 (its reduction ratio
    divided by itself), so that is what its checkpoints hold; Wang et al. use ``in_channels // 2``.
    The output BatchNorm starts at zero weight and bias, so a new block is the identity.
    Sub-module names (``g.0``, ``theta``, ``phi``, ``W.0``, ``W.1``) follow the community checkpoints.
    """

    def __init__(self, in_channels: int, inter_channels: int):
        super().__init__()
        if in_channels <= 0 or inter_channels <= 0:
            raise ValueError(f"NonLocalBlock needs positive channel counts; got in_channels={in_channels}, "
                             f"inter_channels={inter_channels}.")
        self.in_channels = int(in_channels)
        self.inter_channels = int(inter_channels)
        self.g = nn.Sequential(nn.Conv2d(in_channels, inter_channels, kernel_size=1))
        self.theta = nn.Conv2d(in_channels, inter_channels, kernel_size=1)
        self.phi = nn.Conv2d(in_channels, inter_channels, kernel_size=1)
        self.W = nn.Sequential(nn.Conv2d(inter_channels, in_channels, kernel_size=1), nn.BatchNorm2d(in_channels))
        nn.init.zeros_(self.W[1].weight)
        nn.init.zeros_(self.W[1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        g_x = self.g(x).reshape(b, self.inter_channels, -1).transpose(1, 2)          # B×N×c
        theta_x = self.theta(x).reshape(b, self.inter_channels, -1).transpose(1, 2)  # B×N×c
        phi_x = self.phi(x).reshape(b, self.inter_channels, -1)                      # B×c×N
        affinity = torch.matmul(theta_x, phi_x) / phi_x.shape[-1]
        y = torch.matmul(affinity, g_x).transpose(1, 2).reshape(b, self.inter_channels, *x.shape[2:])
        return x + self.W(y)

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, inter_channels={self.inter_channels}"
