"""Batch-hard triplet loss (Hermans et al. 2017), DDAG's metric term on the pooled feature
(its ``OriTripletLoss``: Euclidean distances, the hardest positive and negative per anchor, margin)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["batch_hard_triplet_loss"]


def batch_hard_triplet_loss(features: torch.Tensor, labels: torch.Tensor, margin: float = 0.3) -> torch.Tensor:
    """mean_i max(0, max_{same id} d(i, j) − min_{other id} d(i, k) + margin); d = sqrt(max(d², 1e-12))."""
    sq = features.pow(2).sum(dim=1, keepdim=True)
    dist = torch.addmm(sq + sq.t(), features, features.t(), beta=1.0, alpha=-2.0).clamp(min=1e-12).sqrt()
    labels = labels.view(-1)
    same = labels[:, None] == labels[None, :]
    inf = dist.new_tensor(float("inf"))
    hardest_pos = torch.where(same, dist, -inf).amax(dim=1)
    hardest_neg = torch.where(same, inf, dist).amin(dim=1)
    return F.margin_ranking_loss(hardest_neg, hardest_pos, torch.ones_like(hardest_neg), margin=margin)
