"""Attribute classifiers of AAL (Eq. 8–9).

Reference: n bias-free linear heads (official ``class_0..n-1``) directly on the normalised gate
``atr_feat``; stored as one n×C weight (the checkpoint mapping stacks the official rows).
Paper: pooled attribute-specific features ``f_i = pool(F ⊙ w_i) = w_i ⊙ pool(F)`` (GeM and mean
pooling are positively homogeneous and w_i > 0, so the n gated maps are never materialised);
``W1 = sigmoid(FC(BN(concat_i f_i)))`` (FC a bottleneck MLP, see README); ``f_atr_i = FC_atr(W1 ⊙ f_i)``
(shared FC); ``logit_i = classifier_i(f_atr_i)``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ReferenceAttributeHeads", "PaperAttributeHeads"]


class ReferenceAttributeHeads(nn.Module):
    def __init__(self, dim: int, num_attributes: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_attributes, dim))
        nn.init.normal_(self.weight, 0.0, 0.001)

    def forward(self, gates: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        """gates B×1×C (atr_feat) → B×n logits (``pooled`` unused: the heads read the gate)."""
        return F.linear(gates.mean(1), self.weight)


class PaperAttributeHeads(nn.Module):
    def __init__(self, dim: int, num_attributes: int, reduction: int = 16, attribute_dim: int = 0):
        super().__init__()
        n = num_attributes
        hidden = max(dim // reduction, 1)
        attribute_dim = attribute_dim or max(dim // 4, 1)
        self.concat_norm = nn.BatchNorm1d(n * dim)
        self.w1 = nn.Sequential(nn.Linear(n * dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, dim))
        self.fc_atr = nn.Linear(dim, attribute_dim)
        self.classifier_weight = nn.Parameter(torch.empty(n, attribute_dim))
        self.classifier_bias = nn.Parameter(torch.zeros(n))
        nn.init.normal_(self.classifier_weight, 0.0, 0.001)

    def attribute_features(self, gates: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        """B×n×D: f_atr_i."""
        f_i = gates * pooled.unsqueeze(1)  # B×n×C
        w1 = torch.sigmoid(self.w1(self.concat_norm(f_i.flatten(1))))
        return self.fc_atr(w1.unsqueeze(1) * f_i)

    def forward(self, gates: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        """gates B×n×C, pooled B×C (pool(F)) → B×n logits."""
        f_atr = self.attribute_features(gates, pooled)
        return (f_atr * self.classifier_weight).sum(-1) + self.classifier_bias
