"""The evaluation's data types, in one place: what flows from extraction to ``results.json``.

``FeatureSet`` (extracted features of the query or the gallery images) → ``DistanceSource`` (query ×
gallery distances, block by block) → ``RetrievalMetrics`` (one trial) → ``ProtocolRun`` (one task ×
feature, all trials). The metric kernel's own structures (``GalleryLayout``, ``Workspace`` and its
per-chunk output ``ChunkStats``) live with it in :mod:`.match_positions`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import torch

if TYPE_CHECKING:
    from .match_positions import GalleryLayout, Workspace

__all__ = [
    "FeatureSet", "TestTimeOptions", "RankingOptions", "DistanceSource", "RetrievalMetrics", "ProtocolRun", "REPORTED_RANKS",
    "CHANCE_KEY",
]

REPORTED_RANKS = (1, 5, 10, 20)
# per-trial key of the Rank-1 a random ranking of the same gallery would reach (percent); not named
# "...Rank-1" so that nothing selecting results by that suffix picks it up
CHANCE_KEY = "chance"


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
    modalities: np.ndarray | None = None  # "visible" | "infrared" per row (for plots and saved features)

    def __len__(self) -> int:
        return len(self.pids)

    def subset(self, idx) -> "FeatureSet":
        """Rows ``idx`` (in that order) of every field."""
        idx = np.asarray(idx, dtype=np.int64)
        t = torch.as_tensor(idx)
        take = lambda a: None if a is None else a[idx]  # noqa: E731
        return FeatureSet({k: v[t.to(v.device)] for k, v in self.features.items()}, self.pids[idx], self.camids[idx],
                          [self.paths[i] for i in idx], take(self.attributes), take(self.attribute_mask),
                          take(self.modalities))


@dataclass(frozen=True)
class TestTimeOptions:
    """``TEST.FLIP`` / ``TEST.AQE`` / ``TEST.RERANK`` (fast-reid's keys): flip averaging during
    extraction, average query expansion and k-reciprocal re-ranking of each trial's distances
    (:mod:`.postprocess`). ``label`` names them in the results so numbers with and without
    test-time tricks are never mixed up."""

    flip: bool = False
    aqe: bool = False
    aqe_times: int = 1
    aqe_k: int = 5
    aqe_alpha: float = 3.0
    rerank: bool = False
    rerank_k1: int = 20
    rerank_k2: int = 6
    rerank_lambda: float = 0.3

    __test__ = False  # not a pytest class

    def __post_init__(self):
        if self.aqe and (self.aqe_times < 1 or self.aqe_k < 1):
            raise ValueError(f"TEST.AQE.QE_TIME and TEST.AQE.QE_K must be >= 1, got {self.aqe_times} and {self.aqe_k}.")
        if self.rerank and (self.rerank_k1 < 1 or self.rerank_k2 < 1 or not 0.0 <= self.rerank_lambda <= 1.0):
            raise ValueError(f"TEST.RERANK needs K1 >= 1, K2 >= 1 and 0 <= LAMBDA <= 1, got K1={self.rerank_k1}, "
                             f"K2={self.rerank_k2}, LAMBDA={self.rerank_lambda}.")

    @classmethod
    def from_config(cls, cfg) -> "TestTimeOptions":
        t = cfg.TEST
        return cls(bool(t.FLIP.ENABLED), bool(t.AQE.ENABLED), int(t.AQE.QE_TIME), int(t.AQE.QE_K), float(t.AQE.ALPHA),
                   bool(t.RERANK.ENABLED), int(t.RERANK.K1), int(t.RERANK.K2), float(t.RERANK.LAMBDA))

    @property
    def label(self) -> str:
        """``""`` or e.g. ``"+flip+aqe+rerank"`` (in the order they are applied)."""
        return "".join(f"+{name}" for name, on in (("flip", self.flip), ("aqe", self.aqe), ("rerank", self.rerank)) if on)

    @property
    def changes_distances(self) -> bool:
        return self.aqe or self.rerank

    def as_dict(self) -> dict:
        """For ``results.json``: only the options that are on, with their parameters."""
        d = asdict(self)
        return {k: v for k, v in d.items() if d[k.split("_")[0]]}


@dataclass
class RankingOptions:
    """``TEST.RANKING`` and friends. ``backend`` is resolved once per run (``auto`` → ``torch``,
    ``faiss-cpu`` or ``faiss-gpu``) before any distance is computed."""

    backend: str = "auto"
    distance: str = "cosine"
    max_rank: int = 20
    max_rows: int = 0
    test_time: TestTimeOptions = field(default_factory=TestTimeOptions)  # flip / AQE / re-ranking
    kernel_threads: int = 0  # intra-op threads of the metric kernel and re-ranking on CPU (0: auto, row workers / ThreadProbe)
    trial_workers: int = 0  # trials scored at once on CPU, one intra-op thread each (0: the run's threads)

    @classmethod
    def from_config(cls, cfg) -> "RankingOptions":
        t = cfg.TEST
        return cls(t.RANKING.BACKEND, t.RANKING.DISTANCE, t.MAX_RANK, t.RANKING.QUERY_CHUNK,
                   TestTimeOptions.from_config(cfg), t.RANKING.KERNEL_THREADS, t.RANKING.TRIAL_WORKERS)


@runtime_checkable
class DistanceSource(Protocol):
    """Query × gallery distances (smaller = better), served as blocks of query rows with the gallery
    columns in the layout's order (``GalleryLayout.perm``: the gallery order unless the layout
    regroups by identity), so the metric kernel never needs the whole matrix. Implementations: ``MatrixSource``, ``FeatureSource``, ``TrialColumnsSource``
    (:mod:`.distances`) and ``RankingSource`` (:mod:`.ranking`)."""

    num_query: int
    num_gallery: int
    device: torch.device

    def set_layout(self, layout: GalleryLayout) -> None:
        """Called once before the blocks: the column order of every block."""

    def regrouped(self, i0: int, i1: int, workspace: Workspace) -> torch.Tensor:
        """(i1 - i0, num_gallery) distances of queries i0..i1 in the layout's column order; the caller
        owns (and overwrites) the block, which may live in a ``workspace`` buffer."""


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


@dataclass
class ProtocolRun:
    """One (task, feature[, test-time source]): per-trial figures (percent), summarised as the mean
    and the population std over trials (``np.std``, as the PAENet evaluation script). ``feature``
    carries its test-time label (``FC+flip``)."""

    task: str
    feature: str
    info: dict
    trials: list = field(default_factory=list)  # per trial: {metric: percent}
    source: str = ""
    first_trial: dict = field(default_factory=dict)  # {metric: percent} of trial 0 only (TPR@FPR): no std
    camera_pairs: list = field(default_factory=list)  # trial 0's Rank-1/mAP per camera pair (.camera_breakdown)
    attribute_groups: list = field(default_factory=list)  # trial 0's Rank-1/mAP per attribute value (.camera_breakdown)
    cmc_curves: list = field(default_factory=list)  # per trial: the full CMC, percent, ranks 1..max_rank

    @property
    def prefix(self) -> str:
        """``[<source>/]<feature>``: how tables and within-task result keys name the row."""
        return f"{self.source}/{self.feature}" if self.source else self.feature

    def summary(self) -> dict[str, float]:
        """Within-task result keys (:class:`~.result_keys.ResultKey`) → mean and std over trials."""
        from .result_keys import ResultKey  # noqa: PLC0415 - result_keys imports nothing from here

        out = {}
        for metric in self.trials[0]:
            values = np.array([t[metric] for t in self.trials], dtype=np.float64)
            key = ResultKey("-", self.task, self.feature, metric, self.source)
            out[key.metric_key] = float(values.mean())
            out[key.with_statistic("std").metric_key] = float(values.std())
        for metric, value in self.first_trial.items():
            out[ResultKey("-", self.task, self.feature, metric, self.source).metric_key] = float(value)
        return out
