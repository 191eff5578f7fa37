"""Embedding-I as the official code computes it: cross attention over *per-channel scalar tokens*.

Each of the C coordinates of the normalised image vector is a 1-d query token; the C + n key/value
tokens are dense linear mixes of the concatenation [x0 ; SwitchNorm(a)], read *interleaved*
(k_m = kv[2m], v_m = kv[2m+1]); head dim 1, scale 1; the residual (o + x0) sits inside the output
projection. The block is pre-norm with an outer residual and no final norm (spec §7.1).
Submodule names follow the official ``cross_transformer1`` so checkpoints map by prefix.

The B×C×(C+n) attention matrix is never materialised: ``scaled_dot_product_attention`` with
head dim 1 computes the same softmax-weighted sum in blocks, which is what makes this faster and
lighter than the official implementation.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .switch_norm import SwitchNorm1d

__all__ = ["ChannelTokenCrossAttention", "ChannelTokenCrossTransformer"]


class ChannelTokenCrossAttention(nn.Module):
    def __init__(self, dim: int, context_dim: int, attn_drop: float = 0.1, proj_drop: float = 0.1):
        super().__init__()
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_kv = nn.Linear(dim + context_dim, 2 * (dim + context_dim), bias=False)
        self.proj = nn.Linear(dim, dim)
        self.attn_drop = attn_drop
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x0: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        b, d = x0.shape
        q = self.to_q(x0).view(b, 1, d, 1)
        kv = self.to_kv(torch.cat([x0, c], dim=1)).view(b, 1, -1, 2)  # interleaved k, v
        k, v = kv[..., :1], kv[..., 1:]
        o = F.scaled_dot_product_attention(
            q, k.contiguous(), v.contiguous(), dropout_p=self.attn_drop if self.training else 0.0, scale=1.0
        ).view(b, d)
        return self.proj_drop(self.proj(o + x0))


class _Mlp(nn.Module):
    def __init__(self, dim: int, drop: float = 0.3):
        super().__init__()
        self.fc1 = nn.Linear(dim, dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(dim, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class ChannelTokenCrossTransformer(nn.Module):
    """f (B×C), a (B×n) → f_e1 (B×C), official ``CrossTransformerEncoderLayer``."""

    def __init__(self, dim: int, num_attributes: int, attn_path_drop: float = 0.3, mlp_path_drop: float = 0.1):
        super().__init__()
        self.x_norm1 = nn.LayerNorm(dim)
        self.c_norm1 = SwitchNorm1d(num_attributes)
        self.attn = ChannelTokenCrossAttention(dim, num_attributes)
        self.x_norm2 = nn.LayerNorm(dim)
        self.mlp = _Mlp(dim)
        self.attn_path_drop = nn.Dropout(attn_path_drop)
        self.mlp_path_drop = nn.Dropout(mlp_path_drop)

    def forward(self, f: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
        x0 = self.x_norm1(f)
        c = self.c_norm1(attributes)
        x1 = x0 + self.attn_path_drop(self.attn(x0, c))
        return x1 + self.mlp_path_drop(self.mlp(self.x_norm2(x1)))
