"""Hetero-center triplet loss (docs/protocols.md#hetero-center-triplet), with centres per (modality,
label) taken from the labels (not from the batch layout, trap T7 in docs/protocols.md#reference-traps)."""
from __future__ import annotations

import torch

from .grouping import group_by_modality_label

__all__ = ["hetero_center_triplet_loss"]


def hetero_center_triplet_loss(features: torch.Tensor, labels: torch.Tensor, modality: torch.Tensor,
                               margin: float = 0.3) -> torch.Tensor:
    """Mean over centres c_i of max(0, max_{same id} d(c_i, c_j) − min_{other id} d(c_i, c_j) + margin).

    d = sqrt(max(‖c_i‖² + ‖c_j‖² − 2 c_i·c_j, 1e-12)) as the reference (so d(c_i, c_i) ≈ 1e-6 and
    the hardest positive is the other modality's centre of the same id). A centre with no other
    identity in the batch contributes 0.
    """
    centers, center_labels, _ = group_by_modality_label(features, labels, modality)
    sq = centers.pow(2).sum(dim=1, keepdim=True)
    dist = torch.addmm(sq + sq.t(), centers, centers.t(), beta=1.0, alpha=-2.0).clamp(min=1e-12).sqrt()
    same = center_labels.unsqueeze(0) == center_labels.unsqueeze(1)
    inf = dist.new_tensor(float("inf"))
    d_ap = torch.where(same, dist, -inf).amax(dim=1)
    d_an = torch.where(same, inf, dist).amin(dim=1)
    has_neg = (~same).any(dim=1)
    per_center = torch.where(has_neg, (d_ap - d_an + margin).clamp(min=0), dist.new_zeros(()))
    return per_center.mean()
