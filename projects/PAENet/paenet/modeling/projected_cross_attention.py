"""Embedding-I as the paper describes it (Eq. 3–4): post-norm cross attention whose query is the
image feature f and whose keys/values are the tokens [f ; f_a], f_a the attributes projected to
the feature width (by ``AttributeProjection``, shared with Embedding-II/III).

``f_ca = Norm(Att(Q=f, K=V=[f, f_a]) + f)``, ``z1 = Norm(f_ca + f)``, ``f_e1 = Norm(z1 + FFN(z1))``
(the three norms of the paper; the "+Q" residual is taken on the query input f).
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["AttributeProjection", "ProjectedCrossAttention"]


class AttributeProjection(nn.Module):
    """a (B×n, 0/1) → f_a = relu(W a) (B×C); no bias, so all-zero attributes give f_a = 0."""

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
        self.norm_ca = nn.LayerNorm(dim)
        self.norm_z1 = nn.LayerNorm(dim)
        self.norm_out = nn.LayerNorm(dim)
        hidden = max(int(dim * ffn_ratio), 1)
        self.ffn = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, f: torch.Tensor, f_a: torch.Tensor) -> torch.Tensor:
        q = f.unsqueeze(1)
        kv = torch.stack([f, f_a], dim=1)
        att, _ = self.attn(q, kv, kv, need_weights=False)
        f_ca = self.norm_ca(self.drop(att.squeeze(1)) + f)
        z1 = self.norm_z1(f_ca + f)
        return self.norm_out(z1 + self.drop(self.ffn(z1)))
