"""Shared helpers of the metric losses: groups from (modality, label) and squared distances."""
from __future__ import annotations

import torch

__all__ = ["group_by_modality_label", "squared_distances"]


def group_by_modality_label(features: torch.Tensor, labels: torch.Tensor, modality: torch.Tensor):
    """Mean feature of every (modality, label) pair present, defined by the values, not the batch order.

    Returns ``(centers G×D, center_labels G, center_modality G)``.
    """
    labels = labels.to(features.device).long().view(-1)
    modality = modality.to(features.device).long().view(-1)
    if labels.numel() != features.shape[0] or modality.numel() != features.shape[0]:
        raise ValueError(f"features ({features.shape[0]} rows), labels ({labels.numel()}) and modality "
                         f"({modality.numel()}) must have the same length.")
    keys, inverse = torch.unique(torch.stack([modality, labels], dim=1), dim=0, return_inverse=True)
    centers = features.new_zeros(keys.shape[0], features.shape[1]).index_add(0, inverse, features)
    counts = torch.bincount(inverse, minlength=keys.shape[0]).to(features.dtype)
    return centers / counts.unsqueeze(1), keys[:, 1], keys[:, 0]


def squared_distances(x: torch.Tensor) -> torch.Tensor:
    """‖x_a − x_b‖² from explicit differences (exact zeros on the diagonal, as the reference kernel)."""
    return (x.unsqueeze(1) - x.unsqueeze(0)).pow(2).sum(dim=-1)
