"""Embedding-III as the paper describes it (Eq. 6–7): n attribute-specific channel gates.

``w_i = sigmoid(fc_i([f_a, f_e2]))`` for i = 1..n; feature i is ``F ⊙ w_i``. Each fc_i is a
bottleneck MLP whose first layer is shared (2C → C/r) and whose last layer is attribute-specific
(C/r → C): the paper's n full 2C→C layers would cost n·2C² parameters (67 M for C = 2048, n = 8).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["AttributeSpecificGates"]


class AttributeSpecificGates(nn.Module):
    def __init__(self, dim: int, num_attributes: int, reduction: int = 16):
        super().__init__()
        hidden = max(dim // reduction, 1)
        self.shared = nn.Linear(2 * dim, hidden)
        self.weight = nn.Parameter(torch.empty(num_attributes, dim, hidden))
        self.bias = nn.Parameter(torch.zeros(num_attributes, dim))
        nn.init.kaiming_uniform_(self.weight.view(-1, hidden), a=5 ** 0.5)

    def forward(self, f_e2: torch.Tensor, f_a: torch.Tensor) -> torch.Tensor:
        """→ B×n×C gates in (0, 1)."""
        h = F.relu(self.shared(torch.cat([f_a, f_e2], dim=1)))
        return torch.sigmoid(torch.einsum("bh,nch->bnc", h, self.weight) + self.bias)
