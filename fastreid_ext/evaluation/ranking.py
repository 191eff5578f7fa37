"""Top-k gallery rankings (rank lists, e.g. for visualisation) on the configured backend: torch
(matrix products + stable sort) or FAISS (:mod:`.faiss_search`). Rankings are by ascending distance
(:mod:`.distances`); equal distances are ordered by gallery index on every backend.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from .distances import distance_block, normalize_features, rows_per_chunk
from .faiss_search import GPU_TOPK_LIMIT, faiss_shards, resolve_backend, sharded_topk

__all__ = ["iter_rankings", "rank_gallery"]


def iter_rankings(
    qf: torch.Tensor, gf: torch.Tensor, k: int, backend: str = "auto", distance: str = "cosine", max_rows: int = 0
) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
    """Yields ``(row_start, distances, gallery_indices)`` for chunks of queries, k best per query
    (k is clipped to the gallery size; k = gallery size gives full rankings)."""
    q, g = normalize_features(qf, distance), normalize_features(gf, distance)
    if q.shape[0] == 0 or g.shape[0] == 0:
        raise ValueError(f"Empty query or gallery set: {q.shape[0]} queries and {g.shape[0]} gallery items.")
    k = max(1, min(int(k), g.shape[0]))
    rows = rows_per_chunk(g.shape[0], max_rows)
    kind = resolve_backend(backend)
    if kind == "torch":
        g = g.to(q.device)
        g_sq = g.pow(2).sum(1) if distance == "euclidean" else None
        for i0 in range(0, q.shape[0], rows):
            d = distance_block(q[i0 : i0 + rows], g, distance, g_sq)
            dist, idx = torch.sort(d, dim=1, stable=True)
            yield i0, dist[:, :k], idx[:, :k]
        return
    g_np = g.detach().cpu().numpy()
    limit = GPU_TOPK_LIMIT if kind == "faiss-gpu" else max(k, 1)
    shards = faiss_shards(g_np, distance, kind == "faiss-gpu")
    for i0 in range(0, q.shape[0], rows):
        q_np = np.ascontiguousarray(q[i0 : i0 + rows].detach().cpu().numpy())
        dist, idx = sharded_topk(shards.search_fn(q_np), g_np.shape[0], k, limit)
        yield i0, dist.to(q.device), idx.to(q.device)


def rank_gallery(qf, gf, k: int, backend: str = "auto", distance: str = "cosine", max_rows: int = 0):
    """All queries at once: (num_q, k) distances and gallery indices, best first."""
    parts = list(iter_rankings(qf, gf, k, backend, distance, max_rows))
    return torch.cat([p[1] for p in parts]), torch.cat([p[2] for p in parts])
