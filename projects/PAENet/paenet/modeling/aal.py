"""Attribute-based Auxiliary Learning: the identity feature from the gated map (Eq. 10) and the
attribute classifiers (Eq. 8–9).

AAL off (ablation): no attribute heads and no attribute loss; the identity feature is the pooled
map gated by the mean PAE gate rescaled to unit mean, ``f_id = pool(F ⊙ ḡ / mean_c ḡ)``, so the
metric losses see the baseline's scale whatever the gate's normalisation.
"""
from __future__ import annotations

import torch
from torch import nn

from .attribute_heads import PaperAttributeHeads, ReferenceAttributeHeads
from .region_branch import PaperRegionBranch, ReferenceRegionBranch

__all__ = ["AttributeAuxiliaryLearning"]


class AttributeAuxiliaryLearning(nn.Module):
    def __init__(self, variant: str, dim: int, num_attributes: int, *, enabled: bool = True,
                 reduction: int = 16, attribute_dim: int = 0):
        super().__init__()
        self.variant, self.enabled = variant, enabled
        self.region = self.heads = None
        if not enabled:
            return
        if variant == "reference":
            self.region = ReferenceRegionBranch(dim)
            self.heads = ReferenceAttributeHeads(dim, num_attributes)
        else:
            self.region = PaperRegionBranch()
            self.heads = PaperAttributeHeads(dim, num_attributes, reduction=reduction, attribute_dim=attribute_dim)

    def identity_feature(self, fmap: torch.Tensor, gates: torch.Tensor, pool: nn.Module) -> torch.Tensor:
        if self.enabled:
            return self.region(fmap, gates, pool)
        g = gates.mean(1)
        g = g / g.mean(1, keepdim=True).clamp_min(1e-12)
        return pool(fmap * g[:, :, None, None])

    def attribute_logits(self, gates: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor | None:
        return self.heads(gates, pooled) if self.enabled else None
