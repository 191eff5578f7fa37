"""Embedding-III as the official code computes it: ONE attribute-conditioned channel gate.

``g = sigmoid(fc2(relu(fc1([f_e2, relu(mask_fc2(a))]))))``, L2-normalised (``atr_feat``). The
official "n attribute features" are n references to this one tensor, so one gate is the same
function. ``mask_fc2``/``fc1``/``fc2`` keep the official ``ASENet`` names. The official ASENet also
holds ``conv1``, ``conv2`` and ``mask_fc1`` for Embedding-II; they do not change the function
(Embedding-II is the identity there) and get zero gradient, so they are not built here.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ReferenceAttributeGate"]


class ReferenceAttributeGate(nn.Module):
    def __init__(self, dim: int, num_attributes: int):
        super().__init__()
        self.mask_fc2 = nn.Linear(num_attributes, dim, bias=False)
        self.fc1 = nn.Linear(2 * dim, dim)
        self.fc2 = nn.Linear(dim, dim)

    def forward(self, f_e2: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
        """→ B×1×C: the normalised gate, as a stack of one gate (the paper variant has n)."""
        a = F.relu(self.mask_fc2(attributes))
        g = torch.sigmoid(self.fc2(F.relu(self.fc1(torch.cat([f_e2, a], dim=1)))))
        return F.normalize(g, dim=1).unsqueeze(1)
