"""Query × gallery-pool distances computed once and sliced per trial.

The SYSU trial galleries (all/indoor × single/multi, 10 trials each) are subsets of one gallery
pool, so the query × pool distance matrix is computed once per feature (only the columns some trial
draws) and each trial gathers its columns. The matrix product, not the metrics, would otherwise be
most of the protocol's cost. Memory: ``num_query × num_columns`` floats, checked against a bound;
the runner falls back to per-trial distance blocks above it.
"""
from __future__ import annotations

import numpy as np
import torch

from .distances import distance_block, rows_per_chunk
from .query_stats import GalleryLayout

__all__ = ["POOL_MAX_ELEMENTS", "PoolDistances", "PoolTrialSource"]

# 2^29 float32 = 2 GiB: the SYSU query set (3,803) × a full pool (~14,000) is ~0.2 GiB.
POOL_MAX_ELEMENTS = 1 << 29


class PoolDistances:
    """Distances of every query to the pool columns ``columns`` (sorted unique pool indices)."""

    def __init__(self, q: torch.Tensor, g_pool: torch.Tensor, columns: np.ndarray, distance: str):
        self.columns = np.asarray(columns, dtype=np.int64)
        g = g_pool.index_select(0, torch.as_tensor(self.columns, device=g_pool.device)).to(q.device)
        g_sq = g.pow(2).sum(1) if distance == "euclidean" else None
        self.d = torch.empty(q.shape[0], g.shape[0], dtype=torch.float32, device=q.device)
        rows = rows_per_chunk(g.shape[0])
        for i0 in range(0, q.shape[0], rows):
            self.d[i0 : i0 + rows] = distance_block(q[i0 : i0 + rows], g, distance, g_sq)

    @staticmethod
    def fits(num_query: int, num_columns: int, max_elements: int = POOL_MAX_ELEMENTS) -> bool:
        return num_query * num_columns <= max_elements

    def trial(self, pool_idx: np.ndarray) -> "PoolTrialSource":
        """A metric source for the trial gallery ``pool[pool_idx]`` (in that order)."""
        cols = np.searchsorted(self.columns, pool_idx)
        return PoolTrialSource(self.d, torch.as_tensor(cols, dtype=torch.long, device=self.d.device), self)

    def block_buffer(self, numel: int) -> torch.Tensor:
        """A work buffer for the trial blocks, reused across trials (fresh block-sized allocations
        cost page faults comparable to the metrics themselves); the metric kernel owns each block."""
        if getattr(self, "_buf", None) is None or self._buf.numel() < numel:
            self._buf = torch.empty(numel, dtype=self.d.dtype, device=self.d.device)
        return self._buf[:numel]


class PoolTrialSource:
    """Metric source (as :class:`~.metrics.MatrixSource`) over the columns ``cols`` of a pool matrix."""

    def __init__(self, d: torch.Tensor, cols: torch.Tensor, pool: PoolDistances | None = None):
        self.d, self.cols, self.pool = d, cols, pool
        self.num_query, self.num_gallery = d.shape[0], int(cols.numel())
        self.device = d.device
        self._cols_rg = None

    def set_layout(self, layout: GalleryLayout) -> None:
        self._cols_rg = self.cols.index_select(0, layout.perm.to(self.device))

    def regrouped(self, i0: int, i1: int) -> torch.Tensor:
        if self.pool is None:
            return self.d[i0:i1].index_select(1, self._cols_rg)
        out = self.pool.block_buffer((i1 - i0) * self.num_gallery).view(i1 - i0, self.num_gallery)
        return torch.index_select(self.d[i0:i1], 1, self._cols_rg, out=out)

    def original(self, rows: torch.Tensor) -> torch.Tensor:
        return self.d[rows.to(self.device)].index_select(1, self.cols)
