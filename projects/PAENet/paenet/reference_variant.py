"""The ``reference`` variant: PAE and AAL as the official ``model_mine.py`` computes them.

What the official forward does and where it departs from the paper is written down in
docs/protocols.md; in short:
* Embedding-I (``ChannelTokenCrossTransformer``): cross attention over the C *per-channel scalar
  tokens* of the normalised image vector against C + n dense mixes of [x0 ; SwitchNorm(a)], read
  interleaved; head dim 1, scale 1, residual inside the output projection, pre-norm, no final norm.
* Embedding-II is the identity officially (a broadcast 1×1 vector under a spatial softmax), so it
  is not built and its switch changes nothing here.
* Embedding-III (``ReferenceAttributeGate``): ONE gate ``sigmoid(fc2(relu(fc1([f_e2, relu(W a)]))))``,
  L2-normalised (``atr_feat``); the official "n features" are n references to it.
* AAL heads: n bias-free linear heads on the gate; identity feature (Eq. 10 as coded):
  ``f_id = GeM(sigmoid(F ⊙ sigmoid(BN2d(F ⊙ g))))``.
Submodule names follow the official ones so checkpoints map by prefix (official_checkpoint.py).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .token_attention import token_attention

__all__ = ["SwitchNorm1d", "ChannelTokenCrossAttention", "ChannelTokenCrossTransformer", "ReferenceAttributeGate",
           "ReferencePAE", "ReferenceAttributeHeads", "ReferenceRegionBranch"]


class SwitchNorm1d(nn.Module):
    """The official attribute normaliser, kept bit-for-bit (it is not PyTorch's BatchNorm).

    Per-sample and per-batch statistics use the *unbiased* variance and are mixed by two learnable
    softmax pairs; running statistics follow ``running = m·running + (1-m)·batch`` (m = 0.997 weighs
    the *old* value) and ``running_var`` starts at 0; eval still uses the per-sample statistics.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.997):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = nn.Parameter(torch.ones(1, num_features))
        self.bias = nn.Parameter(torch.zeros(1, num_features))
        self.mean_weight = nn.Parameter(torch.ones(2))
        self.var_weight = nn.Parameter(torch.ones(2))
        self.register_buffer("running_mean", torch.zeros(1, num_features))
        self.register_buffer("running_var", torch.zeros(1, num_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.num_features:
            raise ValueError(f"SwitchNorm1d expects B×{self.num_features}, got {tuple(x.shape)}")
        mean_ln, var_ln = x.mean(1, keepdim=True), x.var(1, keepdim=True)
        if self.training:
            if x.shape[0] < 2:
                raise ValueError("SwitchNorm1d needs at least 2 samples per batch in training mode")
            mean_bn, var_bn = x.mean(0, keepdim=True), x.var(0, keepdim=True)
            with torch.no_grad():
                self.running_mean.mul_(self.momentum).add_((1 - self.momentum) * mean_bn)
                self.running_var.mul_(self.momentum).add_((1 - self.momentum) * var_bn)
        else:
            mean_bn, var_bn = self.running_mean, self.running_var
        mw, vw = torch.softmax(self.mean_weight, 0), torch.softmax(self.var_weight, 0)
        mean = mw[0] * mean_ln + mw[1] * mean_bn
        var = vw[0] * var_ln + vw[1] * var_bn
        return (x - mean) / (var + self.eps).sqrt() * self.weight + self.bias


class ChannelTokenCrossAttention(nn.Module):
    """Official ``MultiHeadCrossAttention``; the B×C×(C+n) attention matrix is never materialised
    (``scaled_dot_product_attention`` with head dim 1 computes the same weighted sum in blocks; in
    training with dropout on CPU, :func:`.token_attention.token_attention` does)."""

    def __init__(self, dim: int, context_dim: int, attn_drop: float = 0.1, proj_drop: float = 0.1):
        super().__init__()
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_kv = nn.Linear(dim + context_dim, 2 * (dim + context_dim), bias=False)
        self.proj = nn.Linear(dim, dim)
        self.attn_drop = attn_drop
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x0: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        b, d = x0.shape
        q = self.to_q(x0)
        kv = self.to_kv(torch.cat([x0, c], dim=1)).view(b, -1, 2)  # interleaved k, v
        k, v = kv[..., 0].contiguous(), kv[..., 1].contiguous()
        p = self.attn_drop if self.training else 0.0
        if p > 0 and x0.device.type == "cpu":  # SDPA's math path would keep the B×C×(C+n) matrices
            o = token_attention(q, k, v, p)
        else:
            o = F.scaled_dot_product_attention(q.view(b, 1, d, 1), k.view(b, 1, -1, 1), v.view(b, 1, -1, 1),
                                               dropout_p=p, scale=1.0).view(b, d)
        return self.proj_drop(self.proj(o + x0))


class _Mlp(nn.Module):
    def __init__(self, dim: int, drop: float = 0.3):
        super().__init__()
        self.fc1, self.act, self.fc2, self.drop = nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, dim), nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class ChannelTokenCrossTransformer(nn.Module):
    """Embedding-I: f (B×C), a (B×n) → f_e1 (B×C), official ``CrossTransformerEncoderLayer``."""

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
        x1 = x0 + self.attn_path_drop(self.attn(x0, self.c_norm1(attributes)))
        return x1 + self.mlp_path_drop(self.mlp(self.x_norm2(x1)))


class ReferenceAttributeGate(nn.Module):
    """Embedding-III (official ``ASENet`` names ``mask_fc2``/``fc1``/``fc2``). The official ASENet
    also holds Embedding-II's ``conv1``/``conv2``/``mask_fc1``, which change nothing and get zero
    gradient, so they are not built."""

    def __init__(self, dim: int, num_attributes: int):
        super().__init__()
        self.mask_fc2 = nn.Linear(num_attributes, dim, bias=False)
        self.fc1 = nn.Linear(2 * dim, dim)
        self.fc2 = nn.Linear(dim, dim)

    def forward(self, f_e2: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
        """→ B×1×C: the normalised gate, as a stack of one gate (the paper variant has n)."""
        a = F.relu(self.mask_fc2(attributes))
        g = torch.sigmoid(self.fc2(F.relu(self.fc1(torch.cat([f_e2, a], dim=1)))))
        return F.normalize(g, dim=1).unsqueeze(1)


class ReferencePAE(nn.Module):
    """Embedding-I → (identity) → Embedding-III, giving the gates B×1×C.

    A switched-off Embedding-I passes f through; a switched-off Embedding-III is the parameter-free
    ``normalize(sigmoid(f_e2))``. With every embedding off (= PAE off) no attribute enters and the
    gate is ``normalize(sigmoid(f))``, a function of the image, so AAL still learns from it.
    """

    num_gates = 1

    def __init__(self, dim: int, num_attributes: int, *, embedding_i: bool = True, embedding_iii: bool = True):
        super().__init__()
        self.embedding_i = ChannelTokenCrossTransformer(dim, num_attributes) if embedding_i else None
        self.embedding_iii = ReferenceAttributeGate(dim, num_attributes) if embedding_iii else None

    @property
    def uses_attributes(self) -> bool:
        return self.embedding_i is not None or self.embedding_iii is not None

    def forward(self, fmap: torch.Tensor, f: torch.Tensor, attributes: torch.Tensor | None) -> torch.Tensor:
        f_e1 = self.embedding_i(f, attributes) if self.embedding_i is not None else f
        f_e2 = f_e1  # Embedding-II is the identity in the official code
        if self.embedding_iii is not None:
            return self.embedding_iii(f_e2, attributes)
        return F.normalize(torch.sigmoid(f_e2), dim=1).unsqueeze(1)


class ReferenceAttributeHeads(nn.Module):
    """n bias-free heads (official ``class_0..n-1``) on the gate, stored as one n×C weight."""

    def __init__(self, dim: int, num_attributes: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_attributes, dim))
        nn.init.normal_(self.weight, 0.0, 0.001)

    def forward(self, gates: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        """gates B×1×C (atr_feat) → B×n logits (``pooled`` unused: the heads read the gate)."""
        return F.linear(gates.mean(1), self.weight)


class ReferenceRegionBranch(nn.Module):
    """Official ``region``: ``W2 = sigmoid(BN2d(F ⊙ g))``, ``f_id = GeM(sigmoid(F ⊙ W2))`` (values in
    [0.5, 1)); the BN2d bias is frozen, as officially."""

    def __init__(self, dim: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(dim)
        self.bn.bias.requires_grad_(False)

    def forward(self, fmap: torch.Tensor, gates: torch.Tensor, pool: nn.Module) -> torch.Tensor:
        w2 = torch.sigmoid(self.bn(fmap * gates.mean(1)[:, :, None, None]))
        return pool(torch.sigmoid(fmap * w2))
