"""Query × gallery distances: the feature preparation, the distance sources
(:class:`~.types.DistanceSource`), and the one place where a run chooses its source
(:func:`distance_sources`). Every source serves blocks of query rows in the column order of a
:class:`~.match_positions.GalleryLayout` (the gallery's own order unless the layout regroups it by
identity; bounded memory), never the full matrix unless one was given.

Convention (the community one): smaller distance = better match, and for "cosine" the distance is
``-(q · g)`` on L2-normalised features, for "euclidean" the *squared* Euclidean distance (same
ranking as the Euclidean distance, and what FAISS ``IndexFlatL2`` returns).
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from ..utils.threads import ThreadProbe
from .faiss_search import RankingSource
from .match_positions import GalleryLayout, Workspace
from .types import DistanceSource, RankingOptions

__all__ = [
    "DISTANCES", "normalize_features", "prepare_features", "distance_block", "rows_per_chunk", "MatrixSource",
    "FeatureSource", "DistanceMatrix", "TrialColumnsSource", "distance_sources", "MATRIX_MAX_ELEMENTS",
]

DISTANCES = ("cosine", "euclidean")

# Elements of a query-chunk × gallery block (4 bytes each; the metric kernel's temporaries, about 20
# bytes per element, follow its row pieces of at most metrics.PIECE_ELEMENTS). Bounds memory whatever
# the gallery size.
DEFAULT_BLOCK_ELEMENTS = 1 << 25
# 2^29 float32 = 2 GiB: the SYSU query set (3,803) × every drawn gallery column (~14,000) is ~0.2 GiB.
MATRIX_MAX_ELEMENTS = 1 << 29


def check_distance(distance: str) -> None:
    if distance not in DISTANCES:
        raise ValueError(f"Unknown distance '{distance}'; expected one of {DISTANCES} (TEST.RANKING.DISTANCE).")


def normalize_features(features: torch.Tensor, distance: str) -> torch.Tensor:
    """float32 2-D features, L2-normalised for cosine (the models return them unnormalised)."""
    check_distance(distance)
    if features.dim() != 2:
        raise ValueError(f"Features must be a 2-D (N, D) tensor, got shape {tuple(features.shape)}.")
    features = features.float()
    return F.normalize(features, dim=1) if distance == "cosine" else features


def prepare_features(query: torch.Tensor, gallery: torch.Tensor, options: RankingOptions) -> tuple[torch.Tensor, torch.Tensor]:
    """The one place where query and gallery features are post-processed before any distance
    (normalisation today; query expansion or similar steps belong here), gallery on the query's device."""
    q, g = normalize_features(query, options.distance), normalize_features(gallery, options.distance)
    if q.shape[1] != g.shape[1]:
        raise ValueError(f"Query and gallery feature sizes differ: {q.shape[1]} vs {g.shape[1]}.")
    return q, g.to(q.device)


def distance_block(q: torch.Tensor, g: torch.Tensor, distance: str, g_sqnorm: torch.Tensor | None = None,
                   out: torch.Tensor | None = None, negated: bool = False) -> torch.Tensor:
    """(len(q), len(g)) distances, on the features' device; inputs from :func:`normalize_features`.
    ``out``: a contiguous (len(q), len(g)) float tensor written in place (no block-sized temporary);
    ``negated``: for cosine, ``q`` is already ``-q`` (then the product is the distance, no negation
    pass; exact, since IEEE rounding is symmetric in sign)."""
    check_distance(distance)
    if distance == "cosine":
        d = torch.mm(q, g.t(), out=out)
        return d if negated else d.neg_()
    if g_sqnorm is None:
        g_sqnorm = g.pow(2).sum(1)
    d = torch.addmm(g_sqnorm.unsqueeze(0), q, g.t(), beta=1.0, alpha=-2.0, out=out)
    return d.add_(q.pow(2).sum(1, keepdim=True))


def rows_per_chunk(num_gallery: int, max_rows: int = 0, block_elements: int = DEFAULT_BLOCK_ELEMENTS) -> int:
    """Query rows per chunk so a chunk × gallery block stays within ``block_elements``."""
    rows = max(1, block_elements // max(1, num_gallery))
    return min(rows, max_rows) if max_rows > 0 else rows


class MatrixSource:
    """A :class:`~.types.DistanceSource` over a precomputed (num_q, num_g) matrix (numpy or torch; dtype kept)."""

    def __init__(self, distmat):
        self.d = torch.as_tensor(distmat)
        if self.d.dim() != 2:
            raise ValueError(f"distmat must be 2-D, got shape {tuple(self.d.shape)}.")
        self.num_query, self.num_gallery = self.d.shape
        self.device = self.d.device
        self._perm = None

    def set_layout(self, layout: GalleryLayout) -> None:
        self._perm = None if layout.gallery_order else layout.perm.to(self.device)

    def regrouped(self, i0: int, i1: int, workspace: Workspace) -> torch.Tensor:
        out = workspace.buffer("block", (i1 - i0) * self.num_gallery, self.d.dtype, self.device)
        out = out.view(i1 - i0, self.num_gallery)
        if self._perm is None:  # the kernel overwrites its block: a copy, not a view
            return out.copy_(self.d[i0:i1])
        return torch.index_select(self.d[i0:i1], 1, self._perm, out=out)


class FeatureSource:
    """A :class:`~.types.DistanceSource` computing blocks from features on demand (never the full
    matrix). With ``prepared=True`` the features are taken as they come out of
    :func:`prepare_features` (a query set shared by many trials is normalised once)."""

    def __init__(self, qf: torch.Tensor, gf: torch.Tensor, distance: str = "cosine", prepared: bool = False):
        q, g = (qf, gf) if prepared else prepare_features(qf, gf, RankingOptions(distance=distance))
        check_distance(distance)
        self.q, self.g, self.distance = q, g.to(q.device), distance
        self.num_query, self.num_gallery = self.q.shape[0], self.g.shape[0]
        self.device = self.q.device
        self._g_rg = self._g_rg_sq = self._q_neg = None

    def set_layout(self, layout: GalleryLayout) -> None:
        # the gallery as the blocks order it: itself in gallery order (no copy of the whole gallery)
        self._g_rg = self.g if layout.gallery_order else self.g.index_select(0, layout.perm.to(self.device))
        if self.distance == "cosine":
            self._q_neg = self.q.neg()  # -(q · g) as one matmul, without a negation pass over each block
        else:
            self._g_rg_sq = self._g_rg.pow(2).sum(1)

    def regrouped(self, i0: int, i1: int, workspace: Workspace) -> torch.Tensor:
        out = workspace.buffer("block", (i1 - i0) * self.num_gallery, self.q.dtype, self.device)
        cosine = self.distance == "cosine"
        return distance_block((self._q_neg if cosine else self.q)[i0:i1], self._g_rg, self.distance, self._g_rg_sq,
                              out=out.view(i1 - i0, self.num_gallery), negated=cosine)


class DistanceMatrix:
    """Distances of every query to the gallery columns ``columns`` (sorted unique gallery indices),
    computed once and shared by trials whose galleries are subsets of one gallery set (SYSU-MM01:
    4 protocols × 10 trials). The matrix product, not the metrics, would otherwise be most of the
    protocol's cost. Memory: ``num_query × num_columns`` floats, see :meth:`fits`."""

    def __init__(self, q: torch.Tensor, g: torch.Tensor, columns: np.ndarray, distance: str):
        self.columns = np.asarray(columns, dtype=np.int64)
        gc = g.index_select(0, torch.as_tensor(self.columns, device=g.device)).to(q.device)
        g_sq = gc.pow(2).sum(1) if distance == "euclidean" else None
        self.d = torch.empty(q.shape[0], gc.shape[0], dtype=torch.float32, device=q.device)
        qn, negated = (q.neg(), True) if distance == "cosine" else (q, False)
        rows = rows_per_chunk(gc.shape[0])
        for i0 in range(0, q.shape[0], rows):  # each chunk's product written in place: the floor, no extra pass
            distance_block(qn[i0 : i0 + rows], gc, distance, g_sq, out=self.d[i0 : i0 + rows], negated=negated)

    @staticmethod
    def fits(num_query: int, num_columns: int, max_elements: int = MATRIX_MAX_ELEMENTS) -> bool:
        return num_query * num_columns <= max_elements

    def trial(self, gallery_idx: np.ndarray) -> TrialColumnsSource:
        """The distance source of the trial gallery ``gallery[gallery_idx]`` (in that order)."""
        cols = np.searchsorted(self.columns, gallery_idx)
        return TrialColumnsSource(self.d, torch.as_tensor(cols, dtype=torch.long, device=self.d.device))


class TrialColumnsSource:
    """A :class:`~.types.DistanceSource` over the columns ``cols`` of a :class:`DistanceMatrix`."""

    def __init__(self, d: torch.Tensor, cols: torch.Tensor):
        self.d, self.cols = d, cols
        self.num_query, self.num_gallery = d.shape[0], int(cols.numel())
        self.device = d.device
        self._cols_rg = None

    def set_layout(self, layout: GalleryLayout) -> None:
        self._cols_rg = self.cols if layout.gallery_order else self.cols.index_select(0, layout.perm.to(self.device))

    def regrouped(self, i0: int, i1: int, workspace: Workspace) -> torch.Tensor:
        out = workspace.buffer("block", (i1 - i0) * self.num_gallery, self.d.dtype, self.device)
        return torch.index_select(self.d[i0:i1], 1, self._cols_rg, out=out.view(i1 - i0, self.num_gallery))


def distance_sources(q: torch.Tensor, g: torch.Tensor, galleries: list[np.ndarray] | None,
                     options: RankingOptions) -> Iterator[DistanceSource]:
    """The one place where a run's distance source is chosen. ``q``, ``g``: from
    :func:`prepare_features`. ``galleries``: the trial galleries as indices into ``g`` (SYSU), or
    ``None`` for one gallery, all of ``g`` (RegDB). Yields one source per gallery, in order.

    * AQE and/or re-ranking on (``options.test_time``): per trial gallery, the post-processed source
      of :func:`.postprocess.test_time_source` (no shared matrix: both depend on the gallery);
    * FAISS backend (``options.backend`` resolved to ``faiss-cpu``/``faiss-gpu``): full FAISS
      rankings (:class:`~.faiss_search.RankingSource`);
    * torch, several trial galleries whose drawn columns fit: one shared :class:`DistanceMatrix`;
    * torch otherwise: distance blocks from the features (:class:`FeatureSource`)."""
    if options.test_time.changes_distances:
        from .postprocess import test_time_source  # noqa: PLC0415 - postprocess builds on this module

        threads = ThreadProbe(options.kernel_threads)  # one choice for the run's trial galleries
        for idx in [None] if galleries is None else galleries:
            yield test_time_source(q, g if idx is None else g.index_select(0, torch.as_tensor(idx, device=g.device)), options,
                                   threads)
        return
    if options.backend == "torch":
        if galleries is None:
            yield FeatureSource(q, g, options.distance, prepared=True)
            return
        columns = np.unique(np.concatenate(galleries)) if galleries else np.zeros(0, np.int64)
        if DistanceMatrix.fits(q.shape[0], len(columns)):
            matrix = DistanceMatrix(q, g, columns, options.distance)
            for idx in galleries:
                yield matrix.trial(idx)
            return
        for idx in galleries:
            yield FeatureSource(q, g.index_select(0, torch.as_tensor(idx, device=g.device)), options.distance, prepared=True)
        return
    if not options.backend.startswith("faiss-"):
        raise ValueError(f"Ranking backend '{options.backend}' is not resolved; expected torch, faiss-cpu or faiss-gpu.")
    for idx in [None] if galleries is None else galleries:
        gi = g if idx is None else g.index_select(0, torch.as_tensor(idx, device=g.device))
        yield RankingSource(q, gi, options.backend, options.distance)
