"""Center-cluster loss (the public ``CenterTripletLoss``): each feature's distance to its identity's
batch center, plus a hinge pushing every pair of distinct identity centers at least ``margin`` apart."""
from __future__ import annotations

import torch

__all__ = ["center_cluster_loss"]


def center_cluster_loss(feats: torch.Tensor, targets: torch.Tensor, margin: float) -> torch.Tensor:
    """mean_i ||x_i - c_{y_i}|| + mean over identities a of mean over images j with y_j != a of
    relu(margin - ||c_a - c_{y_j}||).

    The public loss takes its anchors at every ``k_size``-th row of the batch; here every identity
    of the batch is an anchor once, which is the same number when each identity fills one block of
    ``k_size`` rows and does not depend on how the sampler orders the batch (README)."""
    ids, inverse = torch.unique(targets, return_inverse=True)
    counts = torch.bincount(inverse, minlength=len(ids)).to(feats.dtype)
    centers = torch.zeros(len(ids), feats.shape[1], dtype=feats.dtype, device=feats.device)
    centers = centers.index_add(0, inverse, feats) / counts[:, None]
    pull = (feats - centers[inverse]).pow(2).sum(1).clamp(min=1e-12).sqrt().mean()
    if len(ids) < 2:
        return pull
    dist = torch.cdist(centers, centers).clamp(min=1e-6)  # ids x ids
    hinge = (margin - dist[:, inverse]).clamp(min=0)  # anchor identity x image
    negative = inverse[None, :] != torch.arange(len(ids), device=feats.device)[:, None]
    push = (hinge * negative).sum(1) / negative.sum(1)
    return pull + push.mean()
