"""Rankings of listed queries for rank lists and search (:func:`ranked_rows`: through the evaluator's
own distance source, so flip, AQE and re-ranking mean the same everywhere), and plain top-k rankings
on the configured backend (:func:`rank_gallery`: torch matrix products + stable sort, or FAISS,
:mod:`.faiss_search`). Rankings are by ascending distance (:mod:`.distances`); equal distances are
ordered by gallery index.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Iterator

import numpy as np
import torch

from .camera_rules import as_camera_rule
from .distances import distance_block, distance_sources, normalize_features, prepare_features, rows_per_chunk
from .faiss_search import GPU_TOPK_LIMIT, faiss_shards, resolve_backend, sharded_topk
from .match_positions import GalleryLayout, Workspace
from .types import FeatureSet, RankingOptions

__all__ = ["iter_rankings", "rank_gallery", "ranked_rows"]


def ranked_rows(query: FeatureSet, gallery: FeatureSet, feature: str, rows, options: RankingOptions, removal=None):
    """For each query row: (gallery indices best first, their distances), after the camera rule
    ``removal`` (:mod:`.camera_rules`). The distances come from the source the evaluator scores
    (:func:`.distances.distance_sources` with the same options: AQE and re-ranking over the whole query
    set, as in the evaluation), ranked with the torch backend's stable order (ties by gallery index)."""
    if feature not in query.features or feature not in gallery.features:
        raise KeyError(f"Feature '{feature}' not available; have {sorted(query.features)}.")
    # plain distances from torch (real values to print); AQE / re-ranking build their own matrix
    opts = replace(options, backend=resolve_backend(options.backend) if options.test_time.changes_distances else "torch")
    q, g = prepare_features(query.features[feature], gallery.features[feature], opts)
    source = next(distance_sources(q, g, None, opts))
    source.set_layout(GalleryLayout.build(np.zeros(len(gallery), dtype=np.int64), device=source.device))  # identity order
    rule = as_camera_rule(removal)
    q_res, g_rem = (None, None) if rule is None else rule.pair_masks(query.camids, gallery.camids)
    q_cam, g_cam = (None, None) if rule is None else rule.match_cameras(query.camids, gallery.camids)
    workspace, out = Workspace(), []
    for r in [int(r) for r in rows]:
        d = source.regrouped(r, r + 1, workspace)[0].detach().float().cpu().clone()
        keep = torch.ones(len(gallery), dtype=torch.bool)
        if q_res is not None and q_res[r]:
            keep &= ~torch.as_tensor(g_rem)
        if q_cam is not None:
            keep &= ~torch.as_tensor((gallery.pids == query.pids[r]) & (g_cam == q_cam[r]))
        idx = keep.nonzero().squeeze(1)
        dists, order = torch.sort(d[idx], stable=True)
        out.append((idx[order].tolist(), dists.tolist()))
    return out


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
