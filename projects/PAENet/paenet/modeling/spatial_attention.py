"""Embedding-II as the paper intends it (Eq. 5): attribute-guided spatial attention over the real
H×W feature map (the official code feeds a broadcast 1×1 vector, which makes it the identity).

Reading chosen: the map attended is X = F + f_e1 (f_e1 added at every position, so Embedding-I's
output is carried on); ``M = softmax_hw(conv2(tanh(conv1(X)) ⊙ tanh(p2(f_a))))`` (one map,
ASENet's attribute-aware attention) and ``f_e2 = Σ_hw M·X = f_e1 + Σ_hw M·F``. conv1 is linear, so
conv1(X) = conv1(F) + conv1(f_e1) and X is never materialised. Sizes come from the input.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["AttributeSpatialAttention"]


class AttributeSpatialAttention(nn.Module):
    def __init__(self, dim: int, reduction: int = 4):
        super().__init__()
        hidden = max(dim // reduction, 1)
        self.conv1 = nn.Conv2d(dim, hidden, 1)
        self.p2 = nn.Linear(dim, hidden)
        self.conv2 = nn.Conv2d(hidden, 1, 1)

    def attention_map(self, fmap: torch.Tensor, f_e1: torch.Tensor, f_a: torch.Tensor) -> torch.Tensor:
        """B×1×H×W, summing to 1 over H×W."""
        b, _, h, w = fmap.shape
        x = self.conv1(fmap) + F.linear(f_e1, self.conv1.weight.flatten(1))[:, :, None, None]
        logits = self.conv2(torch.tanh(x) * torch.tanh(self.p2(f_a))[:, :, None, None])
        return torch.softmax(logits.view(b, 1, h * w), dim=-1).view(b, 1, h, w)

    def forward(self, fmap: torch.Tensor, f_e1: torch.Tensor, f_a: torch.Tensor) -> torch.Tensor:
        m = self.attention_map(fmap, f_e1, f_a)
        return f_e1 + (fmap * m).sum(dim=(2, 3))
