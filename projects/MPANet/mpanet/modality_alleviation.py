"""Modality alleviation module (MAM): a channel gate chooses, per channel, between the feature and
its instance-normalised version (which removes per-image, i.e. modality-specific, statistics)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ModalityAlleviation"]


class ModalityAlleviation(nn.Module):
    """``x * m + IN(x) * (1 - m)`` with ``m = sigmoid(W2 relu(W1 avgpool(x)))``; parameter names as
    the public ``MAM`` (``channel_attention.{0,2}.weight``) so public checkpoints load unchanged."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.channel_attention = nn.Sequential(
            nn.Conv2d(channels, hidden, kernel_size=1, bias=False), nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, kernel_size=1, bias=False), nn.Sigmoid())
        self.IN = nn.InstanceNorm2d(channels, track_running_stats=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = self.channel_attention(F.adaptive_avg_pool2d(x, 1))
        return x * gate + self.IN(x) * (1 - gate)
