"""Multi-kernel MMD between modalities: per identity with a margin (MMD-ID, docs/protocols.md#margin-mmd)
and global.

Kernels as the reference ``guassian_kernel``: bandwidth σ = mean off-diagonal squared distance
(detached), σ_j = σ·mul^(j − n//2) + 1e-9, k = Σ_j exp(−D/σ_j). P and K come from the
batch (trap T6 in docs/protocols.md#reference-traps).
"""
from __future__ import annotations

import torch

from .grouping import squared_distances

__all__ = ["gaussian_kernel_sum", "mmd2", "margin_mmd_loss", "global_mmd_loss"]


def gaussian_kernel_sum(z: torch.Tensor, num_kernels: int = 5, kernel_mul: float = 2.0) -> torch.Tensor:
    n = z.shape[0]
    if n < 2:
        raise ValueError(f"The MMD kernel bandwidth needs at least 2 samples; got {n}.")
    d = squared_distances(z)
    sigma = d.detach().sum() / (n * n - n)
    base = sigma / kernel_mul ** (num_kernels // 2)
    return sum(torch.exp(-d / (base * kernel_mul ** j + 1e-9)) for j in range(num_kernels))


def mmd2(x: torch.Tensor, y: torch.Tensor, num_kernels: int = 5, kernel_mul: float = 2.0) -> torch.Tensor:
    """Biased (V-statistic) MMD² of x (n×D) and y (m×D): mean K_XX + mean K_YY − mean K_XY − mean K_YX."""
    k = gaussian_kernel_sum(torch.cat([x, y]), num_kernels, kernel_mul)
    n = x.shape[0]
    return k[:n, :n].mean() + k[n:, n:].mean() - k[:n, n:].mean() - k[n:, :n].mean()


def _split(features, labels, modality):
    labels = labels.to(features.device).long().view(-1)
    modality = modality.to(features.device).long().view(-1)
    if labels.numel() != features.shape[0] or modality.numel() != features.shape[0]:
        raise ValueError(f"features ({features.shape[0]} rows), labels ({labels.numel()}) and modality "
                         f"({modality.numel()}) must have the same length.")
    return labels, modality


def margin_mmd_loss(features: torch.Tensor, labels: torch.Tensor, modality: torch.Tensor, margin: float = 1.40,
                    num_kernels: int = 5, kernel_mul: float = 2.0) -> torch.Tensor:
    """(1/P) Σ_p [MMD²_p if MMD²_p > margin else 0] over the P identities present in both modalities.

    As the reference, a group above the margin contributes its unshifted MMD² (gradient of
    max(0, MMD² − m), larger logged value); ``margin`` 0 or None: every group contributes.
    Identities seen in one modality only are skipped; no such identity at all gives 0.
    """
    labels, modality = _split(features, labels, modality)
    terms = []
    for pid in torch.unique(labels):
        x = features[(labels == pid) & (modality == 0)]
        y = features[(labels == pid) & (modality == 1)]
        if x.shape[0] == 0 or y.shape[0] == 0:
            continue
        value = mmd2(x, y, num_kernels, kernel_mul)
        terms.append(value if not margin else torch.where(value > margin, value, value * 0))
    if not terms:
        return features.sum() * 0
    return torch.stack(terms).mean()


def global_mmd_loss(features: torch.Tensor, labels: torch.Tensor, modality: torch.Tensor,
                    num_kernels: int = 5, kernel_mul: float = 2.0) -> torch.Tensor:
    """MMD² of all visible rows against all infrared rows (reference ``MMD_Loss``); labels unused."""
    _, modality = _split(features, labels, modality)
    x, y = features[modality == 0], features[modality == 1]
    if x.shape[0] == 0 or y.shape[0] == 0:
        return features.sum() * 0
    return mmd2(x, y, num_kernels, kernel_mul)
