"""FAISS flat-index search and the choice of ranking backend.

``TEST.RANKING.BACKEND`` (resolved once per run by :func:`resolve_backend`):
* ``auto``: FAISS on GPU when faiss is installed with GPU support and ``faiss.get_num_gpus() > 0``,
  otherwise torch. (On CPU the torch path is the faster one for metrics: they never need a full sort,
  see :mod:`.match_positions`, while FAISS must return the full ranking.)
* ``faiss``: FAISS on GPU when a GPU is visible to faiss, else FAISS on CPU.
* ``torch``: distance blocks from matrix products, on the features' device (:mod:`.distances`).

faiss is imported here only, inside the functions that use it. Equal distances are ordered by
gallery index (ties at the k-th place of a top-k may still pick a different item). GPU FAISS selects
at most ``GPU_TOPK_LIMIT`` neighbours, so larger k is served by searching gallery shards of at most
that size and merging them (:func:`sharded_topk`). With a FAISS backend the metrics read full FAISS
rankings through :class:`RankingSource`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np
import torch

if TYPE_CHECKING:
    from .match_positions import GalleryLayout, Workspace

__all__ = ["BACKENDS", "GPU_TOPK_LIMIT", "resolve_backend", "sharded_topk", "stable_ties", "faiss_shards", "RankingSource"]

BACKENDS = ("auto", "faiss", "torch")
RESOLVED_BACKENDS = ("torch", "faiss-cpu", "faiss-gpu")
GPU_TOPK_LIMIT = 2048


def _faiss():
    try:
        import faiss  # noqa: PLC0415 - optional, heavy: imported only when a FAISS backend is used
    except ImportError as e:
        raise ImportError("TEST.RANKING.BACKEND needs faiss (pip install faiss-cpu or faiss-gpu), or set it to 'torch'.") from e
    return faiss


def _faiss_gpus() -> int:
    try:
        faiss = _faiss()
    except ImportError:
        return 0
    return int(faiss.get_num_gpus()) if hasattr(faiss, "get_num_gpus") else 0


def resolve_backend(name: str) -> str:
    """``auto|faiss|torch`` → ``faiss-gpu``, ``faiss-cpu`` or ``torch`` (a resolved name is kept)."""
    if name in RESOLVED_BACKENDS[1:]:
        _faiss()
        return name
    if name not in BACKENDS:
        raise ValueError(f"Unknown ranking backend '{name}'; expected one of {BACKENDS} (TEST.RANKING.BACKEND).")
    if name == "torch":
        return "torch"
    gpus = _faiss_gpus()
    if name == "auto":
        return "faiss-gpu" if gpus > 0 else "torch"
    _faiss()
    return "faiss-gpu" if gpus > 0 else "faiss-cpu"


def stable_ties(dist: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Reorder rows sorted by distance so that equal distances are in ascending gallery index."""
    if dist.shape[1] < 2 or not bool((dist[:, 1:] == dist[:, :-1]).any()):
        return dist, idx
    by_index = torch.sort(idx, dim=1, stable=True).indices
    d2, i2 = dist.gather(1, by_index), idx.gather(1, by_index)
    order = torch.sort(d2, dim=1, stable=True).indices
    return d2.gather(1, order), i2.gather(1, order)


def sharded_topk(search: Callable[[int, int, int], tuple], num_gallery: int, k: int, limit: int = GPU_TOPK_LIMIT):
    """Top-k over the gallery by searching shards of at most ``limit`` items, each with
    ``k_s = min(k, shard size) <= limit``, and merging. ``search(start, end, k_s)`` returns the
    (distances, local indices) of ``gallery[start:end]``, sorted ascending, as torch tensors."""
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}.")
    k = min(k, num_gallery)
    if k <= limit:
        dist, idx = search(0, num_gallery, k)
        return stable_ties(dist, idx.long())
    dists, idxs = [], []
    for start in range(0, num_gallery, limit):
        end = min(num_gallery, start + limit)
        dist, idx = search(start, end, min(k, end - start))
        dists.append(dist)
        idxs.append(idx.long() + start)
    dist, idx = torch.cat(dists, 1), torch.cat(idxs, 1)
    by_index = torch.sort(idx, dim=1, stable=True).indices
    dist, idx = dist.gather(1, by_index), idx.gather(1, by_index)
    order = torch.sort(dist, dim=1, stable=True).indices[:, :k]
    return dist.gather(1, order), idx.gather(1, order)


def faiss_shards(g: np.ndarray, distance: str, gpu: bool) -> _FaissShards:
    """Flat FAISS indexes over shards of the gallery ``g`` (prepared features), built on first use."""
    return _FaissShards(_faiss(), g, distance, gpu)


class _FaissShards:
    """One flat FAISS index per gallery shard, built once and reused for every query chunk."""

    def __init__(self, faiss, g: np.ndarray, distance: str, gpu: bool):
        self.faiss, self.g, self.distance, self.gpu = faiss, g, distance, gpu
        self.res = faiss.StandardGpuResources() if gpu else None
        self.indexes: dict = {}

    def _index(self, start: int, end: int):
        if (start, end) not in self.indexes:
            dim = self.g.shape[1]
            index = self.faiss.IndexFlatIP(dim) if self.distance == "cosine" else self.faiss.IndexFlatL2(dim)
            if self.gpu:
                index = self.faiss.index_cpu_to_gpu(self.res, 0, index)
            index.add(np.ascontiguousarray(self.g[start:end]))
            self.indexes[(start, end)] = index
        return self.indexes[(start, end)]

    def search_fn(self, q: np.ndarray):
        def search(start: int, end: int, k: int):
            dist, idx = self._index(start, end).search(q, k)
            dist = torch.from_numpy(dist)
            return (dist.neg() if self.distance == "cosine" else dist), torch.from_numpy(idx)

        return search


class RankingSource:
    """A :class:`~.types.DistanceSource` over full FAISS rankings: the "distance" of a gallery item is
    its 0-based place in the query's ranking (distinct, exact in float32 below 2^24 items), so the
    metric kernel reads the FAISS order itself. ``q``, ``g``: prepared features; ``kind``: a resolved
    FAISS backend (``faiss-cpu`` or ``faiss-gpu``)."""

    def __init__(self, q: torch.Tensor, g: torch.Tensor, kind: str, distance: str = "cosine"):
        if kind not in RESOLVED_BACKENDS[1:]:
            raise ValueError(f"RankingSource needs a resolved FAISS backend (faiss-cpu or faiss-gpu), got '{kind}'.")
        if g.shape[0] >= 2**24:
            raise ValueError(f"{g.shape[0]} gallery items: ranking places are exact in float32 below 2^24 only.")
        self.q, self.num_query, self.num_gallery = q, q.shape[0], g.shape[0]
        self.device = q.device
        g_np = g.detach().cpu().numpy()
        self._shards = faiss_shards(g_np, distance, kind == "faiss-gpu")
        self._limit = GPU_TOPK_LIMIT if kind == "faiss-gpu" else max(self.num_gallery, 1)
        self._to_rg = None

    def set_layout(self, layout: GalleryLayout) -> None:
        perm = layout.perm.to(self.device)
        self._to_rg = torch.empty_like(perm).scatter_(0, perm, torch.arange(perm.numel(), device=self.device))

    def regrouped(self, i0: int, i1: int, workspace: Workspace) -> torch.Tensor:
        q_np = np.ascontiguousarray(self.q[i0:i1].detach().cpu().numpy())
        _, idx = sharded_topk(self._shards.search_fn(q_np), self.num_gallery, self.num_gallery, self._limit)
        idx = idx.to(self.device)
        places = torch.arange(self.num_gallery, dtype=torch.float32, device=self.device).expand(i1 - i0, -1)
        out = workspace.buffer("block", (i1 - i0) * self.num_gallery, torch.float32, self.device)
        return out.view(i1 - i0, self.num_gallery).scatter_(1, self._to_rg[idx], places)
