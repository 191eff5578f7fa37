"""Attribute loss of AAL: binary cross-entropy over the *known* attributes only.

The official code takes mean BCE over all B×n entries (every SYSU attribute is known); with a
mask, unknown entries (``attribute_mask`` False) neither count nor divide. Computed from logits
for numerical stability (same value as BCE on sigmoid probabilities).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["masked_attribute_bce"]


def masked_attribute_bce(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean BCE over entries where ``mask`` is True (all entries when ``mask`` is None); 0 if none."""
    if logits.shape != targets.shape:
        raise ValueError(f"attribute logits {tuple(logits.shape)} and targets {tuple(targets.shape)} differ in shape")
    loss = F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype), reduction="none")
    if mask is None:
        return loss.mean()
    mask = mask.to(device=logits.device, dtype=torch.bool)
    if mask.shape != logits.shape:
        raise ValueError(f"attribute_mask {tuple(mask.shape)} does not match the logits {tuple(logits.shape)}")
    count = mask.sum()
    if int(count) == 0:
        return logits.sum() * 0.0
    return loss.masked_fill(~mask, 0.0).sum() / count
