"""Cross-modality graph structured attention (CGSA, DDAG Sec. 3.2), used in training only: a graph
over the batch whose edges join images of the same identity (either modality), multi-head graph
attention on the pooled features, and an output layer to class log-probabilities (the graph loss).

Parameter names follow the public ``attention.py`` (``W``, ``a`` of each layer).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["GraphAttentionLayer", "CrossModalityGraphAttention", "label_adjacency"]


def label_adjacency(labels: torch.Tensor) -> torch.Tensor:
    """B×B, 1 where two images share the identity (the diagonal included), else 0 (DDAG Eq. 6; the
    public code's row normalisation keeps the same positive entries, and only those are used)."""
    labels = labels.view(-1)
    return (labels[:, None] == labels[None, :]).float()


class GraphAttentionLayer(nn.Module):
    """One GAT layer (Veličković et al.): ``softmax_j(LeakyReLU(a·[Wh_i ‖ Wh_j]))`` over the edges of
    ``adjacency``, dropout on the attention, then the attention-weighted sum of Wh (ELU if ``hidden``)."""

    def __init__(self, in_features: int, out_features: int, dropout: float, alpha: float, hidden: bool):
        super().__init__()
        self.W = nn.Parameter(torch.empty(in_features, out_features))
        self.a = nn.Parameter(torch.empty(2 * out_features, 1))
        nn.init.xavier_uniform_(self.W, gain=1.414)
        nn.init.xavier_uniform_(self.a, gain=1.414)
        self.dropout, self.alpha, self.hidden = float(dropout), float(alpha), bool(hidden)

    def forward(self, x: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        h = x @ self.W
        d = h.shape[1]
        # a·[h_i ‖ h_j] = a_1·h_i + a_2·h_j
        logits = F.leaky_relu(h @ self.a[:d] + (h @ self.a[d:]).t(), self.alpha)
        logits = logits.masked_fill(adjacency <= 0, -9e15)
        attention = F.dropout(torch.softmax(logits, dim=1), self.dropout, training=self.training)
        out = attention @ h
        return F.elu(out) if self.hidden else out


class CrossModalityGraphAttention(nn.Module):
    """``heads`` hidden layers (C → low_dim each, concatenated), then one layer to ``num_classes``."""

    def __init__(self, in_features: int, low_dim: int, num_classes: int, heads: int, dropout: float, alpha: float):
        super().__init__()
        self.heads = nn.ModuleList(GraphAttentionLayer(in_features, low_dim, dropout, alpha, hidden=True)
                                   for _ in range(heads))
        self.out = GraphAttentionLayer(low_dim * heads, num_classes, dropout, alpha, hidden=False)
        self.dropout = float(dropout)

    def forward(self, pooled: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        """Class log-probabilities (B×num_classes)."""
        x = F.dropout(pooled, self.dropout, training=self.training)
        x = torch.cat([head(x, adjacency) for head in self.heads], dim=1)
        x = F.dropout(x, self.dropout, training=self.training)
        return F.log_softmax(F.elu(self.out(x, adjacency)), dim=1)
