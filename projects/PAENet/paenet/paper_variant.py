"""The ``paper`` variant: PAE and AAL as the paper's equations describe them (sizes are fractions
of the feature width C, never absolute channel counts).

* Eq. 3–4, Embedding-I (``ProjectedCrossAttention``): post-norm cross attention with query f and
  key/value tokens [f ; f_a], f_a = relu(W a) (``AttributeProjection``, no bias: zero attributes give
  f_a = 0); ``f_ca = LN(Att + f)``, ``z1 = LN(f_ca + f)``, ``f_e1 = LN(z1 + FFN(z1))``.
* Eq. 5, Embedding-II (``AttributeSpatialAttention``): attribute-guided spatial attention over the
  real H×W map X = F + f_e1: ``M = softmax_hw(conv2(tanh(conv1(X)) ⊙ tanh(p2(f_a))))``,
  ``f_e2 = Σ_hw M·X = f_e1 + Σ_hw M·F`` (conv1 is linear, so X is never materialised).
* Eq. 6–7, Embedding-III (``AttributeSpecificGates``): n gates ``w_i = sigmoid(fc_i([f_a, f_e2]))``;
  each fc_i is a bottleneck MLP with a shared first layer (2C → C/r) and an attribute-specific last
  layer (C/r → C): n full 2C→C layers would cost n·2C² parameters (67 M for C = 2048, n = 8).
* Eq. 8–9, AAL heads (``PaperAttributeHeads``): pooled attribute features ``f_i = pool(F ⊙ w_i) =
  w_i ⊙ pool(F)`` (GeM and mean pooling are positively homogeneous and w_i > 0). ``literal`` (default):
  ``W1 = sigmoid([f_1 … f_n])`` without parameters multiplies n copies of f = pool(F), so
  ``f_atr_i = FC_atr(sigmoid(f_i) ⊙ f)``; ``learned``: ``W1 = sigmoid(MLP(BN(concat_i f_i)))`` (one
  C-vector) and ``f_atr_i = FC_atr(W1 ⊙ f_i)``. Then ``logit_i = classifier_i(f_atr_i)``.
* Eq. 10, identity feature (``PaperRegionBranch``): ``W2 = sigmoid(mean_i F ⊙ w_i)``,
  ``f_id = pool(W2 ⊙ F)``, no parameters.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["AttributeProjection", "ProjectedCrossAttention", "AttributeSpatialAttention", "AttributeSpecificGates",
           "PaperPAE", "PaperAttributeHeads", "PaperRegionBranch", "AAL_WEIGHTINGS"]

AAL_WEIGHTINGS = ("literal", "learned")


class AttributeProjection(nn.Module):
    """a (B×n, 0/1) → f_a = relu(W a) (B×C)."""

    def __init__(self, num_attributes: int, dim: int):
        super().__init__()
        self.proj = nn.Linear(num_attributes, dim, bias=False)

    def forward(self, attributes: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.proj(attributes))


class ProjectedCrossAttention(nn.Module):
    def __init__(self, dim: int, num_heads: int = 8, ffn_ratio: float = 1.0, dropout: float = 0.1):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"PAENET.PAPER.NUM_HEADS={num_heads} must divide the feature width {dim}.")
        self.attn = nn.MultiheadAttention(dim, num_heads, dropout=dropout, batch_first=True)
        self.norm_ca, self.norm_z1, self.norm_out = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        hidden = max(int(dim * ffn_ratio), 1)
        self.ffn = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, f: torch.Tensor, f_a: torch.Tensor) -> torch.Tensor:
        kv = torch.stack([f, f_a], dim=1)
        att, _ = self.attn(f.unsqueeze(1), kv, kv, need_weights=False)
        f_ca = self.norm_ca(self.drop(att.squeeze(1)) + f)
        z1 = self.norm_z1(f_ca + f)
        return self.norm_out(z1 + self.drop(self.ffn(z1)))


class AttributeSpatialAttention(nn.Module):
    def __init__(self, dim: int, reduction: int = 4):
        super().__init__()
        hidden = max(dim // reduction, 1)
        self.conv1 = nn.Conv2d(dim, hidden, 1)
        self.p2 = nn.Linear(dim, hidden)
        self.conv2 = nn.Conv2d(hidden, 1, 1)

    def attention_map(self, fmap: torch.Tensor, f_e1: torch.Tensor, f_a: torch.Tensor) -> torch.Tensor:
        """B×1×H×W, summing to 1 over H×W."""
        b, _, h, w = fmap.shape
        x = self.conv1(fmap) + F.linear(f_e1, self.conv1.weight.flatten(1))[:, :, None, None]
        logits = self.conv2(torch.tanh(x) * torch.tanh(self.p2(f_a))[:, :, None, None])
        return torch.softmax(logits.view(b, 1, h * w), dim=-1).view(b, 1, h, w)

    def forward(self, fmap: torch.Tensor, f_e1: torch.Tensor, f_a: torch.Tensor) -> torch.Tensor:
        return f_e1 + (fmap * self.attention_map(fmap, f_e1, f_a)).sum(dim=(2, 3))


class AttributeSpecificGates(nn.Module):
    def __init__(self, dim: int, num_attributes: int, reduction: int = 16):
        super().__init__()
        hidden = max(dim // reduction, 1)
        self.shared = nn.Linear(2 * dim, hidden)
        self.weight = nn.Parameter(torch.empty(num_attributes, dim, hidden))
        self.bias = nn.Parameter(torch.zeros(num_attributes, dim))
        nn.init.kaiming_uniform_(self.weight.view(-1, hidden), a=5 ** 0.5)

    def forward(self, f_e2: torch.Tensor, f_a: torch.Tensor) -> torch.Tensor:
        """→ B×n×C gates in (0, 1)."""
        h = F.relu(self.shared(torch.cat([f_a, f_e2], dim=1)))
        return torch.sigmoid(torch.einsum("bh,nch->bnc", h, self.weight) + self.bias)


class PaperPAE(nn.Module):
    """Embedding-I → II → III, giving n gates B×n×C. A switched-off embedding passes its input
    through (Embedding-III off: the parameter-free ``sigmoid(f_e2)`` for every attribute); with every
    embedding off (= PAE off) no attribute enters and the gates are ``sigmoid(f)``."""

    def __init__(self, dim: int, num_attributes: int, *, embedding_i: bool = True, embedding_ii: bool = True,
                 embedding_iii: bool = True, num_heads: int = 8, ffn_ratio: float = 1.0, spatial_reduction: int = 4,
                 gate_reduction: int = 16):
        super().__init__()
        self.num_gates = num_attributes
        self.attribute_projection = AttributeProjection(num_attributes, dim) if (
            embedding_i or embedding_ii or embedding_iii) else None
        self.embedding_i = ProjectedCrossAttention(dim, num_heads, ffn_ratio) if embedding_i else None
        self.embedding_ii = AttributeSpatialAttention(dim, spatial_reduction) if embedding_ii else None
        self.embedding_iii = AttributeSpecificGates(dim, num_attributes, gate_reduction) if embedding_iii else None

    @property
    def uses_attributes(self) -> bool:
        return self.attribute_projection is not None

    def forward(self, fmap: torch.Tensor, f: torch.Tensor, attributes: torch.Tensor | None) -> torch.Tensor:
        f_a = self.attribute_projection(attributes) if self.attribute_projection is not None else None
        f_e1 = self.embedding_i(f, f_a) if self.embedding_i is not None else f
        f_e2 = self.embedding_ii(fmap, f_e1, f_a) if self.embedding_ii is not None else f_e1
        if self.embedding_iii is not None:
            return self.embedding_iii(f_e2, f_a)
        return torch.sigmoid(f_e2).unsqueeze(1).expand(-1, self.num_gates, -1)


class PaperAttributeHeads(nn.Module):
    def __init__(self, dim: int, num_attributes: int, *, weighting: str = "literal", reduction: int = 16,
                 attribute_dim: int = 0):
        super().__init__()
        if weighting not in AAL_WEIGHTINGS:
            raise ValueError(f"PAENET.PAPER.AAL_WEIGHTING is '{weighting}'; expected one of {AAL_WEIGHTINGS}.")
        n, self.weighting = num_attributes, weighting
        attribute_dim = attribute_dim or max(dim // 4, 1)
        if weighting == "learned":
            hidden = max(dim // reduction, 1)
            self.concat_norm = nn.BatchNorm1d(n * dim)
            self.w1 = nn.Sequential(nn.Linear(n * dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, dim))
        self.fc_atr = nn.Linear(dim, attribute_dim)
        self.classifier_weight = nn.Parameter(torch.empty(n, attribute_dim))
        self.classifier_bias = nn.Parameter(torch.zeros(n))
        nn.init.normal_(self.classifier_weight, 0.0, 0.001)

    def attribute_features(self, gates: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        """B×n×D: f_atr_i."""
        f_i = gates * pooled.unsqueeze(1)  # B×n×C
        if self.weighting == "literal":
            return self.fc_atr(torch.sigmoid(f_i) * pooled.unsqueeze(1))
        w1 = torch.sigmoid(self.w1(self.concat_norm(f_i.flatten(1))))
        return self.fc_atr(w1.unsqueeze(1) * f_i)

    def forward(self, gates: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        """gates B×n×C, pooled B×C (pool(F)) → B×n logits."""
        return (self.attribute_features(gates, pooled) * self.classifier_weight).sum(-1) + self.classifier_bias


class PaperRegionBranch(nn.Module):
    def forward(self, fmap: torch.Tensor, gates: torch.Tensor, pool: nn.Module) -> torch.Tensor:
        return pool(torch.sigmoid(fmap * gates.mean(1)[:, :, None, None]) * fmap)
