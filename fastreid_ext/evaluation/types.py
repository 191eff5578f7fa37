"""The evaluation's data types, in one place: what flows from extraction to ``results.json``.

``FeatureSet`` (extracted features of the query or the gallery images) → ``DistanceSource`` (query ×
gallery distances, block by block) → ``ChunkStats`` (per-query match positions, per chunk) →
``RetrievalMetrics`` (one trial) → ``ProtocolRun`` (one task × feature, all trials).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import torch

__all__ = [
    "FeatureSet", "RankingOptions", "DistanceSource", "GalleryLayout", "ChunkStats", "RetrievalMetrics",
    "ProtocolRun", "Workspace", "REPORTED_RANKS",
]

REPORTED_RANKS = (1, 5, 10, 20)


@dataclass
class FeatureSet:
    """Model outputs of a list of images (the query set or the gallery set) plus the fields the
    protocols need, row i describing image i in loader order."""

    # model output name -> (N, D) tensor: "FC" (after the BNNeck), "POOL" (the pre-BN pooled feature:
    # the models' output key, kept for compatibility; not a set of images), "attribute_probs", ...
    features: dict
    pids: np.ndarray
    camids: np.ndarray
    paths: list
    attributes: np.ndarray | None = None  # (N, n) 0/1 ground truth, for attribute recognition
    attribute_mask: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.pids)


@dataclass
class RankingOptions:
    """``TEST.RANKING`` and friends. ``backend`` is resolved once per run (``auto`` → ``torch``,
    ``faiss-cpu`` or ``faiss-gpu``) before any distance is computed."""

    backend: str = "auto"
    distance: str = "cosine"
    max_rank: int = 20
    max_rows: int = 0
    sysu_cmc: str = "identity"  # identity (author, de-duplicated ids) | image (standard)


@runtime_checkable
class DistanceSource(Protocol):
    """Query × gallery distances (smaller = better), served as blocks of query rows with the gallery
    columns regrouped by identity (``GalleryLayout.perm``), so the metric kernel never needs the
    whole matrix. Implementations: ``MatrixSource``, ``FeatureSource``, ``TrialColumnsSource``
    (:mod:`.distances`) and ``RankingSource`` (:mod:`.ranking`)."""

    num_query: int
    num_gallery: int
    device: torch.device

    def set_layout(self, layout: GalleryLayout) -> None:
        """Called once before the blocks: the column order of every block."""

    def regrouped(self, i0: int, i1: int, workspace: Workspace) -> torch.Tensor:
        """(i1 - i0, num_gallery) distances of queries i0..i1 in regrouped column order; the caller
        owns (and overwrites) the block, which may live in a ``workspace`` buffer."""


class Workspace:
    """Work buffers of one metric computation, reused across its query chunks (and across the trials
    of one protocol run when the run passes one): a fresh block-sized allocation costs page faults
    comparable to the metrics themselves."""

    def __init__(self) -> None:
        self._buffers: dict[tuple, torch.Tensor] = {}

    def buffer(self, name: str, numel: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        key = (name, dtype, torch.device(device))
        buf = self._buffers.get(key)
        if buf is None or buf.numel() < numel:
            buf = self._buffers[key] = torch.empty(numel, dtype=dtype, device=device)
        return buf[:numel]


@dataclass
class GalleryLayout:
    """Gallery identities and the removal rule, in original and identity-regrouped column order."""

    perm: torch.Tensor  # regrouped column j is original column perm[j]
    pid_index: torch.Tensor  # identity index of each ORIGINAL column (0..U-1)
    starts: torch.Tensor  # first regrouped column of each identity
    counts: torch.Tensor  # columns per identity
    removed: torch.Tensor | None  # ORIGINAL columns ignored by restricted queries (None: no rule)
    unique_pids: np.ndarray

    @classmethod
    def build(cls, g_pids, removed=None, device: torch.device | str = "cpu") -> GalleryLayout:
        g_pids = np.asarray(g_pids).reshape(-1)
        uniq, inv = np.unique(g_pids, return_inverse=True)
        inv = torch.as_tensor(inv.reshape(-1), dtype=torch.long, device=device)
        perm = torch.sort(inv, stable=True).indices
        counts = torch.bincount(inv, minlength=len(uniq))
        starts = torch.cumsum(counts, 0) - counts
        if removed is not None:
            removed = torch.as_tensor(np.asarray(removed, dtype=bool), device=device)
            removed = removed if bool(removed.any()) else None
        return cls(perm, inv, starts, counts, removed, uniq)

    @property
    def num_gallery(self) -> int:
        return int(self.perm.numel())

    def query_index(self, q_pids) -> torch.Tensor:
        """Identity index of each query pid, -1 when the identity is absent from the gallery."""
        q = np.asarray(q_pids).reshape(-1)
        pos = np.clip(np.searchsorted(self.unique_pids, q), 0, max(len(self.unique_pids) - 1, 0))
        found = (self.unique_pids[pos] == q) if len(self.unique_pids) else np.zeros(len(q), bool)
        return torch.as_tensor(np.where(found, pos, -1), dtype=torch.long, device=self.perm.device)


@dataclass
class ChunkStats:
    """Per query of a chunk: number of kept true matches (0 = invalid query), AP, INP, 1-based
    position of the first match, and 1-based rank of the query id among distinct gallery ids."""

    num_matches: torch.Tensor
    ap: torch.Tensor
    inp: torch.Tensor
    first_pos: torch.Tensor
    id_rank: torch.Tensor | None

    @classmethod
    def from_positions(cls, pos: torch.Tensor, num_matches: torch.Tensor, first_pos, id_rank) -> ChunkStats:
        """AP and INP from the (c, Rmax) 1-based positions of the sorted matches (entries >= num_matches unused)."""
        r = num_matches
        k = torch.arange(1, pos.shape[1] + 1, device=pos.device, dtype=torch.float64)
        used = k.unsqueeze(0) <= r.unsqueeze(1)
        zero = torch.zeros((), dtype=torch.float64, device=pos.device)
        prec = torch.where(used, k.unsqueeze(0) / pos.clamp(min=1).double(), zero)
        ap = prec.sum(1) / r.clamp(min=1).double()
        last = pos.gather(1, (r - 1).clamp(min=0).unsqueeze(1)).squeeze(1).clamp(min=1).double()
        return cls(r, ap, r.double() / last, first_pos, id_rank)


@dataclass
class RetrievalMetrics:
    """One trial. ``cmc`` is the identity-de-duplicated (author) CMC when computed, else the standard one."""

    cmc: np.ndarray
    cmc_standard: np.ndarray
    cmc_identity: np.ndarray | None
    mAP: float
    mINP: float
    num_valid: int
    num_queries: int

    def percent(self, cmc: np.ndarray) -> dict[str, float]:
        """The reported figures of this trial in percent, with the given CMC (author or standard)."""
        out = {f"Rank-{r}": 100.0 * float(cmc[r - 1]) for r in REPORTED_RANKS if r <= len(cmc)}
        out["mAP"] = 100.0 * self.mAP
        out["mINP"] = 100.0 * self.mINP
        return out


@dataclass
class ProtocolRun:
    """One (task, feature): per-trial figures (percent), summarised as the mean and the population
    std over trials (``np.std``, as the PAENet evaluation script)."""

    task: str
    feature: str
    info: dict
    trials: list = field(default_factory=list)  # per trial: {metric: percent}

    def summary(self) -> dict[str, float]:
        out = {}
        for key in self.trials[0]:
            values = np.array([t[key] for t in self.trials], dtype=np.float64)
            out[f"{self.feature}/{key}"] = float(values.mean())
            out[f"{self.feature}/{key}-std"] = float(values.std())
        return out
