"""Progressive Attribute Embedding: Embedding-I → II → III, giving the attribute gates.

Output: gates B×k×C, the channel weights of the attribute features ``F_i = F ⊙ gates[:, i]``
(reference: k = 1, the normalised ``atr_feat``; paper: k = n). Switches (ablations):
* Embedding-I off: f_e1 = f.   * Embedding-II off: f_e2 = f_e1 (reference: always, it is the
  identity officially).   * Embedding-III off: the gate is a parameter-free ``sigmoid(f_e2)``
  (reference: L2-normalised, paper: repeated n times).
* PAE off (``enabled=False``): no attribute input at all; the gates are constant ones
  (reference: normalised, 1/√C).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .attribute_gate import ReferenceAttributeGate
from .attribute_specific_gates import AttributeSpecificGates
from .channel_cross_attention import ChannelTokenCrossTransformer
from .projected_cross_attention import AttributeProjection, ProjectedCrossAttention
from .spatial_attention import AttributeSpatialAttention

__all__ = ["ProgressiveAttributeEmbedding", "VARIANTS"]

VARIANTS = ("reference", "paper")


class ProgressiveAttributeEmbedding(nn.Module):
    def __init__(self, variant: str, dim: int, num_attributes: int, *, enabled: bool = True,
                 embedding_i: bool = True, embedding_ii: bool = True, embedding_iii: bool = True,
                 num_heads: int = 8, ffn_ratio: float = 1.0, spatial_reduction: int = 4, gate_reduction: int = 16):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"PAENET.VARIANT is '{variant}'; expected one of {VARIANTS}.")
        self.variant, self.dim, self.num_attributes, self.enabled = variant, dim, num_attributes, enabled
        self.embedding_i = self.embedding_ii = self.embedding_iii = self.attribute_projection = None
        if not enabled:
            return
        if variant == "reference":
            if embedding_i:
                self.embedding_i = ChannelTokenCrossTransformer(dim, num_attributes)
            if embedding_iii:
                self.embedding_iii = ReferenceAttributeGate(dim, num_attributes)
            return
        self.attribute_projection = AttributeProjection(num_attributes, dim)
        if embedding_i:
            self.embedding_i = ProjectedCrossAttention(dim, num_heads=num_heads, ffn_ratio=ffn_ratio)
        if embedding_ii:
            self.embedding_ii = AttributeSpatialAttention(dim, reduction=spatial_reduction)
        if embedding_iii:
            self.embedding_iii = AttributeSpecificGates(dim, num_attributes, reduction=gate_reduction)

    @property
    def num_gates(self) -> int:
        return 1 if self.variant == "reference" else self.num_attributes

    def forward(self, fmap: torch.Tensor, f: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            ones = f.new_ones(f.shape[0], self.num_gates, f.shape[1])
            return F.normalize(ones, dim=2) if self.variant == "reference" else ones
        if self.variant == "reference":
            f_e1 = self.embedding_i(f, attributes) if self.embedding_i is not None else f
            f_e2 = f_e1  # Embedding-II is the identity in the official code (spec §7.3 #3)
            if self.embedding_iii is not None:
                return self.embedding_iii(f_e2, attributes)
            return F.normalize(torch.sigmoid(f_e2), dim=1).unsqueeze(1)
        f_a = self.attribute_projection(attributes)
        f_e1 = self.embedding_i(f, f_a) if self.embedding_i is not None else f
        f_e2 = self.embedding_ii(fmap, f_e1, f_a) if self.embedding_ii is not None else f_e1
        if self.embedding_iii is not None:
            return self.embedding_iii(f_e2, f_a)
        return torch.sigmoid(f_e2).unsqueeze(1).expand(-1, self.num_gates, -1)
