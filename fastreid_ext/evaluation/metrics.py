"""Cross-modal re-id metrics: drop-in ``eval_sysu`` / ``eval_regdb`` and the chunked engine behind them.

Same arguments, return values and numbers as the community functions (AGW ``eval_metrics.py``,
spec §2.3) on inputs without distance ties, computed without a per-query loop, in chunks of query
rows (bounded memory), on the device of the inputs. Deliberate differences, all documented:

* **Ties** are broken by gallery index (a stable ranking); the community ``np.argsort`` quicksort
  breaks them arbitrarily.
* **Queries without a true match** (identity absent, or every match removed by the camera rule)
  are skipped for mAP, mINP and both CMCs, which are divided by the number of valid queries. This
  is exactly what the community numbers are (its author-CMC rows of such queries are all zeros).
  :class:`RetrievalMetrics` also reports how many queries were skipped; no valid query at all, or
  an empty query or gallery, raises ``ValueError``.
* **Fewer ranked items than ``max_rank``**: the CMC keeps ``max_rank`` entries, padded with its last
  value (the community code shortens it, or fails on ragged rows).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .bucket_stats import bucket_chunk_stats
from .distances import distance_block, prepare_features, rows_per_chunk
from .query_stats import ChunkStats, GalleryLayout, sorted_chunk_stats

__all__ = ["RetrievalMetrics", "eval_sysu", "eval_regdb", "compute_metrics", "MatrixSource", "FeatureSource"]

# SYSU-MM01 removal rule: queries of camera 3 ignore every gallery item of camera 2 (same room).
SYSU_REMOVAL = (3, 2)


@dataclass
class RetrievalMetrics:
    """``cmc`` is the identity-de-duplicated (author) CMC when computed, else the standard one."""

    cmc: np.ndarray
    cmc_standard: np.ndarray
    cmc_identity: np.ndarray | None
    mAP: float
    mINP: float
    num_valid: int
    num_queries: int


class MatrixSource:
    """Distance rows from a precomputed (num_q, num_g) matrix (numpy or torch; dtype kept)."""

    def __init__(self, distmat):
        self.d = torch.as_tensor(distmat)
        if self.d.dim() != 2:
            raise ValueError(f"distmat must be 2-D, got shape {tuple(self.d.shape)}.")
        self.num_query, self.num_gallery = self.d.shape
        self.device = self.d.device
        self._perm = None

    def set_layout(self, layout: GalleryLayout) -> None:
        self._perm = layout.perm.to(self.device)

    def regrouped(self, i0: int, i1: int) -> torch.Tensor:
        return self.d[i0:i1].index_select(1, self._perm)

    def original(self, rows: torch.Tensor) -> torch.Tensor:
        return self.d[rows.to(self.device)]


class FeatureSource:
    """Distance blocks computed on demand from features (never the full matrix). With
    ``prepared=True`` the features are taken as already passed through ``prepare_features``
    (float32, L2-normalised for cosine), so a query pool shared by many trials is normalised once."""

    def __init__(self, qf: torch.Tensor, gf: torch.Tensor, distance: str = "cosine", prepared: bool = False):
        self.q = qf if prepared else prepare_features(qf, distance)
        self.g = (gf if prepared else prepare_features(gf, distance)).to(self.q.device)
        if self.q.shape[1] != self.g.shape[1]:
            raise ValueError(f"Query and gallery feature sizes differ: {self.q.shape[1]} vs {self.g.shape[1]}.")
        self.distance = distance
        self.num_query, self.num_gallery = self.q.shape[0], self.g.shape[0]
        self.device = self.q.device
        self._g_rg = self._g_rg_sq = None
        self._g_sq = self.g.pow(2).sum(1) if distance == "euclidean" else None

    def set_layout(self, layout: GalleryLayout) -> None:
        self._g_rg = self.g.index_select(0, layout.perm.to(self.device))
        if self.distance == "cosine":
            self._g_rg.neg_()  # -(q · g) as one matmul, without a negation pass over each block
        else:
            self._g_rg_sq = self._g_rg.pow(2).sum(1)

    def regrouped(self, i0: int, i1: int) -> torch.Tensor:
        if self.distance == "cosine":
            return torch.mm(self.q[i0:i1], self._g_rg.t())
        return distance_block(self.q[i0:i1], self._g_rg, self.distance, self._g_rg_sq)

    def original(self, rows: torch.Tensor) -> torch.Tensor:
        return distance_block(self.q[rows.to(self.device)], self.g, self.distance, self._g_sq)


class _Accumulator:
    def __init__(self, max_rank: int, with_id_rank: bool):
        self.max_rank = max_rank
        self.hist_std = np.zeros(max_rank + 1, np.int64)
        self.hist_id = np.zeros(max_rank + 1, np.int64) if with_id_rank else None
        self.ap = self.inp = 0.0
        self.num_valid = self.num_queries = 0

    def _hist(self, ranks: torch.Tensor) -> np.ndarray:
        r = ranks.clamp(min=1, max=self.max_rank + 1) - 1
        return torch.bincount(r, minlength=self.max_rank + 1).cpu().numpy()

    def add(self, s: ChunkStats) -> None:
        valid = s.num_matches > 0
        self.num_queries += int(valid.numel())
        self.num_valid += int(valid.sum())
        self.ap += float(s.ap[valid].sum())
        self.inp += float(s.inp[valid].sum())
        self.hist_std += self._hist(s.first_pos[valid])
        if self.hist_id is not None:
            self.hist_id += self._hist(s.id_rank[valid])

    def result(self) -> RetrievalMetrics:
        if self.num_valid == 0:
            raise ValueError(
                f"No valid query: none of the {self.num_queries} queries has a true match in its gallery "
                f"(identities absent, or every match removed by the camera rule)."
            )
        nv = float(self.num_valid)
        std = (np.cumsum(self.hist_std[: self.max_rank]) / nv).astype(np.float32)
        ident = None if self.hist_id is None else (np.cumsum(self.hist_id[: self.max_rank]) / nv).astype(np.float32)
        return RetrievalMetrics(
            ident if ident is not None else std, std, ident, self.ap / nv, self.inp / nv, self.num_valid, self.num_queries
        )


def _check_sizes(num_q: int, num_g: int, arrays: dict) -> None:
    if num_q == 0 or num_g == 0:
        raise ValueError(f"Empty pool: {num_q} queries and {num_g} gallery items; both must be non-empty.")
    for name, (arr, n) in arrays.items():
        if arr is not None and len(arr) != n:
            raise ValueError(f"{name} has {len(arr)} entries, expected {n}.")


def _restriction(q_camids, g_camids, removal):
    if removal is None or q_camids is None or g_camids is None:
        return None, None
    q_cam, g_cam = removal
    return np.asarray(q_camids).reshape(-1) == q_cam, np.asarray(g_camids).reshape(-1) == g_cam


def compute_metrics(
    source,
    q_pids,
    g_pids,
    q_camids=None,
    g_camids=None,
    removal=None,
    max_rank: int = 20,
    identity_cmc: bool = True,
    max_rows: int = 0,
) -> RetrievalMetrics:
    """Metrics for a :class:`MatrixSource`/:class:`FeatureSource`; ``removal=(qcam, gcam)``: queries
    of camera qcam ignore gallery items of camera gcam (SYSU: ``SYSU_REMOVAL``)."""
    nq, ng = source.num_query, source.num_gallery
    _check_sizes(nq, ng, {"q_pids": (q_pids, nq), "g_pids": (g_pids, ng), "q_camids": (q_camids, nq), "g_camids": (g_camids, ng)})
    if max_rank < 1:
        raise ValueError(f"max_rank must be >= 1, got {max_rank}.")
    dev = source.device
    q_res, g_rem = _restriction(q_camids, g_camids, removal)
    layout = GalleryLayout.build(g_pids, g_rem, device=dev)
    source.set_layout(layout)
    q_index = layout.query_index(q_pids)
    q_res_t = None if q_res is None else torch.as_tensor(q_res, device=dev)
    acc = _Accumulator(max_rank, identity_cmc)
    rows = rows_per_chunk(ng, max_rows)
    for i0 in range(0, nq, rows):
        i1 = min(nq, i0 + rows)
        qi = q_index[i0:i1]
        qr = None if q_res_t is None else q_res_t[i0:i1]
        acc.add(bucket_chunk_stats(source.regrouped(i0, i1), qi, qr, layout, identity_cmc))
    return acc.result()


def compute_metrics_from_ranking(
    ranking_chunks, q_pids, g_pids, q_camids=None, g_camids=None, removal=None, max_rank=20, identity_cmc=True
) -> RetrievalMetrics:
    """Metrics from full rankings: ``ranking_chunks`` yields (row_start, order) with ``order`` a
    (c, num_g) long tensor of gallery indices, best first (e.g. a FAISS search with k = num_g)."""
    q_pids, g_pids = np.asarray(q_pids).reshape(-1), np.asarray(g_pids).reshape(-1)
    _check_sizes(len(q_pids), len(g_pids), {})
    q_res, g_rem = _restriction(q_camids, g_camids, removal)
    layout, q_index, q_res_t = None, None, None
    acc = _Accumulator(max_rank, identity_cmc)
    for i0, order in ranking_chunks:
        if layout is None:
            layout = GalleryLayout.build(g_pids, g_rem, device=order.device)
            q_index = layout.query_index(q_pids)
            q_res_t = None if q_res is None else torch.as_tensor(q_res, device=order.device)
        i1 = i0 + order.shape[0]
        qr = None if q_res_t is None else q_res_t[i0:i1]
        acc.add(sorted_chunk_stats(order, q_index[i0:i1], qr, layout, identity_cmc))
    return acc.result()


def eval_sysu(distmat, q_pids, g_pids, q_camids, g_camids, max_rank: int = 20):
    """SYSU-MM01 metrics: (author CMC[:max_rank], mAP, mINP), as the community ``eval_sysu``."""
    m = compute_metrics(MatrixSource(distmat), q_pids, g_pids, q_camids, g_camids, SYSU_REMOVAL, max_rank, True)
    return m.cmc, m.mAP, m.mINP


def eval_regdb(distmat, q_pids, g_pids, max_rank: int = 20):
    """RegDB metrics: (standard CMC[:max_rank], mAP, mINP), as the community ``eval_regdb``."""
    m = compute_metrics(MatrixSource(distmat), q_pids, g_pids, None, None, None, max_rank, False)
    return m.cmc, m.mAP, m.mINP
