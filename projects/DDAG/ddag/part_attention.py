"""Intra-modality weighted-part attention (IWPA, DDAG Sec. 3.1): part features mined from the map,
refined by attention across the parts, aggregated with learned part weights and added to the
global feature (a residual), then batch-normalised.

Parameter names follow the public ``attention.py`` (``fc1.0``, ``fc2``, ``fc3``, ``bottleneck``,
``gate``) so its checkpoints map one to one; its ``W`` branch is never used in its forward and is
left out.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fastreid_ext.modeling.layers import BNNeck

__all__ = ["WeightedPartAttention"]


class WeightedPartAttention(nn.Module):
    """``forward(fmap B×C×H×W, global_feat B×C)`` → B×C."""

    def __init__(self, channels: int, parts: int = 3):
        super().__init__()
        if parts < 1:
            raise ValueError(f"DDAG.PARTS must be >= 1, got {parts}.")
        self.parts = int(parts)
        self.fc1 = nn.Sequential(nn.Conv2d(channels, channels, 1))
        self.fc2 = nn.Conv2d(channels, channels, 1)
        self.fc3 = nn.Conv2d(channels, channels, 1)
        self.bottleneck = BNNeck(channels)
        self.gate = nn.Parameter(torch.full((self.parts,), 1.0 / self.parts))

    def forward(self, fmap: torch.Tensor, global_feat: torch.Tensor) -> torch.Tensor:
        parts = F.adaptive_avg_pool2d(fmap, (self.parts, 1)).transpose(2, 3)  # B×C×1×P
        query = self.fc1(parts).flatten(2).transpose(1, 2)  # B×P×C
        key = self.fc2(parts).flatten(2)  # B×C×P
        value = self.fc3(parts).flatten(2).transpose(1, 2)  # B×P×C
        attention = torch.softmax(query @ key, dim=-1)  # B×P×P, across parts
        refined = (attention @ value).transpose(1, 2)  # B×C×P
        aggregated = refined @ torch.softmax(self.gate, dim=-1)  # B×C
        return self.bottleneck(aggregated + global_feat)
