"""Embedding-I's attention with dropout, trained without the B×C×(C+n) probability matrix.

Embedding-I attends from C scalar tokens (one per channel) to C + n scalar tokens with head dim 1
and scale 1: ``o_i = Σ_j drop(softmax_j(q_i k_j)) v_j``. With dropout on, ``scaled_dot_product_attention``
on CPU takes its math path, which materialises and keeps the whole probability matrix, its dropout
mask and the dropped copy (4 + 1 + 4 bytes per entry; 1.2 GB at the paper's batch of 64) and streams
them through memory in every pass: a quarter of a ResNet-50 training step of the reference PAENet.

:class:`ChunkedTokenAttention` computes the same function a block of query rows at a time, so each
pass stays in cache; it keeps only the dropout mask (one byte per entry) and the per-row maximum and
normaliser, and recomputes the probabilities of a block in the backward pass. Same distribution as
``F.dropout`` on the probabilities (each kept with probability 1 - p, scaled by 1/(1 - p)), drawn
from the default generator; without dropout it equals the SDPA forward and gradients to float
rounding (tests/test_token_attention.py).
"""
from __future__ import annotations

import torch

__all__ = ["ChunkedTokenAttention", "token_attention", "rows_per_block"]

# about 2 MiB of float32 probabilities per block (batch × rows × keys): inside a core's L2/L3 share
BLOCK_ELEMENTS = 1 << 19


def rows_per_block(batch: int, keys: int, block_elements: int = BLOCK_ELEMENTS) -> int:
    return max(1, block_elements // max(1, batch * keys))


def _row_max(q: torch.Tensor, k_max: torch.Tensor, k_min: torch.Tensor) -> torch.Tensor:
    """max_j q_i k_j without the products: q_i · max k for q_i >= 0, q_i · min k otherwise (a product
    rounds monotonically in k_j for a fixed q_i, so this IS the largest rounded product)."""
    return torch.where(q >= 0, q * k_max, q * k_min)


class ChunkedTokenAttention(torch.autograd.Function):
    """``(q (B, C), k (B, L), v (B, L), p, rows) → o (B, C)``; see the module docstring."""

    @staticmethod
    def forward(ctx, q, k, v, p: float, rows: int):
        b, c = q.shape
        keep = 1.0 - p
        k_max, k_min = k.amax(1, keepdim=True), k.amin(1, keepdim=True)
        m = _row_max(q, k_max, k_min)  # (B, C)
        z = q.new_empty(b, c)  # Σ_j e_ij: the softmax normaliser, times (1 - p) with dropout
        o = q.new_empty(b, c)
        mask = torch.empty(b, c, k.shape[1], dtype=torch.bool, device=q.device) if p > 0 else None
        kk, vv = k.unsqueeze(1), v.unsqueeze(2)
        for i0 in range(0, c, rows):
            i1 = min(c, i0 + rows)
            e = torch.mul(q[:, i0:i1, None], kk).sub_(m[:, i0:i1, None]).exp_()  # (B, r, L)
            zi = e.sum(2)
            if mask is not None:
                e.mul_(mask[:, i0:i1].bernoulli_(keep))
                zi.mul_(keep)
            z[:, i0:i1] = zi
            o[:, i0:i1] = torch.bmm(e, vv).squeeze(2).div_(zi)
        ctx.save_for_backward(q, k, v, m, z, o, mask)
        ctx.rows, ctx.p = rows, p
        return o

    @staticmethod
    def backward(ctx, grad_out):
        q, k, v, m, z, o, mask = ctx.saved_tensors
        b, c = q.shape
        dq = torch.empty_like(q)
        dk, dv = torch.zeros_like(k), torch.zeros_like(v)
        kk, vv = k.unsqueeze(1), v.unsqueeze(1)
        keep = 1.0 - ctx.p
        g = grad_out / z  # dL/do_i over the stored normaliser z_i = (1 - p) Σ_j e_ij
        for i0 in range(0, c, ctx.rows):
            i1 = min(c, i0 + ctx.rows)
            e = torch.mul(q[:, i0:i1, None], kk).sub_(m[:, i0:i1, None]).exp_()
            kept = e * mask[:, i0:i1] if mask is not None else e  # P_ij z_i: the dropped, rescaled probabilities
            gi = g[:, i0:i1, None]
            dv += torch.bmm(gi.transpose(1, 2), kept).squeeze(1)
            # softmax Jacobian: d logit_ij = g_i (P_ij v_j - S_ij o_i), S = e / Σ_j e = (1 - p) e / z
            dl = torch.mul(kept, vv).sub_(e.mul_(o[:, i0:i1, None] * keep)).mul_(gi)
            dq[:, i0:i1] = torch.bmm(dl, k.unsqueeze(2)).squeeze(2)
            dk += torch.bmm(q[:, None, i0:i1], dl).squeeze(1)
        return dq, dk, dv, None, None


def token_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, p: float) -> torch.Tensor:
    """``o_i = Σ_j dropout_p(softmax_j(q_i k_j)) v_j`` for (B, C) queries and (B, L) keys/values."""
    return ChunkedTokenAttention.apply(q, k, v, float(p), rows_per_block(q.shape[0], k.shape[1]))
