"""The SYSU-MM01 and RegDB search protocols over pools of extracted features.

Each run yields one :class:`ProtocolRun` per (task, feature): the per-trial metrics (percent) and the
trials' seeds, summarised as mean and population std over trials (``np.std``, as PAE ``test.py``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .distances import prepare_features
from .metrics import SYSU_REMOVAL, FeatureSource, RetrievalMetrics, compute_metrics, compute_metrics_from_ranking
from .pool_scores import PoolDistances
from .postprocess import TestTimeOptions, postprocessed_metrics
from .ranking import iter_rankings, resolve_backend
from .sysu_protocol import draw_sysu_gallery, group_gallery_pool

__all__ = ["Pool", "ProtocolRun", "RankingOptions", "feature_metrics", "run_sysu", "run_regdb", "REPORTED_RANKS"]

REPORTED_RANKS = (1, 5, 10, 20)


@dataclass
class Pool:
    """Features of a list of records plus the record fields the protocols need."""

    features: dict  # name -> (N, D) tensor
    pids: np.ndarray
    camids: np.ndarray
    paths: list
    attributes: np.ndarray | None = None  # (N, n) 0/1 ground truth, for attribute recognition
    attribute_mask: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.pids)


@dataclass
class RankingOptions:
    backend: str = "auto"
    distance: str = "cosine"
    max_rank: int = 20
    max_rows: int = 0
    sysu_cmc: str = "identity"  # identity (author, de-duplicated ids) | image (standard)
    test_time: TestTimeOptions = field(default_factory=TestTimeOptions)  # flip / AQE / re-ranking


@dataclass
class ProtocolRun:
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


def feature_metrics(
    qf, gf, q_pids, g_pids, q_cams, g_cams, removal, identity_cmc: bool, opts: RankingOptions, prepared: bool = False
) -> RetrievalMetrics:
    """Metrics from features with the configured backend: torch distance blocks (no full sort), or a
    full FAISS ranking (k = gallery size). AQE / re-ranking (``opts.test_time``) take over when on."""
    if opts.test_time.changes_distances:
        return postprocessed_metrics(qf, gf, q_pids, g_pids, q_cams, g_cams, removal, identity_cmc, opts, opts.test_time)
    if resolve_backend(opts.backend) == "torch":
        return compute_metrics(
            FeatureSource(qf, gf, opts.distance, prepared=prepared), q_pids, g_pids, q_cams, g_cams, removal, opts.max_rank, identity_cmc, opts.max_rows
        )
    chunks = ((i0, idx) for i0, _, idx in iter_rankings(qf, gf, len(g_pids), opts.backend, opts.distance, opts.max_rows))
    return compute_metrics_from_ranking(chunks, q_pids, g_pids, q_cams, g_cams, removal, opts.max_rank, identity_cmc)


def _percent(m: RetrievalMetrics, cmc: np.ndarray) -> dict[str, float]:
    out = {f"Rank-{r}": 100.0 * float(cmc[r - 1]) for r in REPORTED_RANKS if r <= len(cmc)}
    out["mAP"] = 100.0 * m.mAP
    out["mINP"] = 100.0 * m.mINP
    return out


def run_sysu(query: Pool, gallery: Pool, feature_names, modes, shots, num_trials: int, num_shots: int, opts: RankingOptions, prefix=""):
    """All (mode, shot) protocols, ``num_trials`` trials each; the galleries are drawn from ``gallery``."""
    if opts.sysu_cmc not in ("identity", "image"):
        raise ValueError(f"TEST.SYSU.CMC must be 'identity' or 'image', got '{opts.sysu_cmc}'.")
    if num_trials < 1:
        raise ValueError(f"SYSU needs at least one trial, got {num_trials}.")
    groups = group_gallery_pool(gallery.pids, gallery.camids, gallery.paths)
    identity = opts.sysu_cmc == "identity"
    protocols = [(mode, shot, [(t, draw_sysu_gallery(groups, mode, shot, t, num_shots)) for t in range(num_trials)])
                 for mode in modes for shot in shots]
    # every trial gallery is a subset of the pool: with the torch backend, the query x pool distances
    # are computed once per feature (drawn columns only) and each trial gathers its columns
    columns = np.unique(np.concatenate([idx for _, _, draws in protocols for _, idx in draws]))
    shared = (resolve_backend(opts.backend) == "torch" and not opts.test_time.changes_distances
              and PoolDistances.fits(len(query), len(columns)))
    runs = {}
    for name in feature_names:
        q = prepare_features(query.features[name], opts.distance)  # normalised once for all trials
        g = prepare_features(gallery.features[name], opts.distance)
        pool = PoolDistances(q, g, columns, opts.distance) if shared else None
        for mode, shot, draws in protocols:
            run = ProtocolRun(f"{mode}-{shot}", f"{prefix}{name}", _sysu_info(mode, shot, draws, len(query), opts, num_shots))
            run.info["gallery_ids"] = [int(len(np.unique(gallery.pids[idx]))) for _, idx in draws]  # chance Rank-1
            for _, idx in draws:
                args = (query.pids, gallery.pids[idx], query.camids, gallery.camids[idx], SYSU_REMOVAL)
                if pool is not None:
                    m = compute_metrics(pool.trial(idx), *args, opts.max_rank, identity, opts.max_rows)
                else:
                    sel = torch.as_tensor(idx, device=g.device)
                    m = feature_metrics(q, g.index_select(0, sel), *args, identity, opts, prepared=True)
                run.trials.append(_percent(m, m.cmc))
            runs[(mode, shot, name)] = run
        del pool
    return [runs[(mode, shot, name)] for mode, shot, _ in protocols for name in feature_names]


def _sysu_info(mode, shot, draws, num_query, opts, num_shots) -> dict:
    return {
        "protocol": "sysu", "mode": mode, "shot": shot, "num_trials": len(draws), "seeds": [t for t, _ in draws],
        "gallery_sizes": [int(len(idx)) for _, idx in draws], "num_query": num_query, "cmc": opts.sysu_cmc,
        "multi_shot_images": num_shots if shot == "multi" else 1,
    }


REGDB_DIRECTIONS = ("visible2infrared", "infrared2visible")


def run_regdb(visible: Pool, infrared: Pool, feature_names, directions, trial: int, opts: RankingOptions, prefix=""):
    """Visible→infrared (visible queries, thermal gallery) and/or the reverse, standard CMC."""
    runs = []
    for direction in directions:
        if direction not in REGDB_DIRECTIONS:
            raise ValueError(f"Unknown RegDB direction '{direction}'; expected one of {REGDB_DIRECTIONS} (TEST.REGDB.DIRECTIONS).")
        q, g = (visible, infrared) if direction == "visible2infrared" else (infrared, visible)
        info = {"protocol": "regdb", "direction": direction, "split_trial": trial, "num_trials": 1, "seeds": [],
                "num_query": len(q), "gallery_sizes": [len(g)], "cmc": "image", "gallery_ids": [int(len(np.unique(g.pids)))]}
        for name in feature_names:
            run = ProtocolRun(direction, f"{prefix}{name}", info)
            m = feature_metrics(q.features[name], g.features[name], q.pids, g.pids, None, None, None, False, opts)
            run.trials.append(_percent(m, m.cmc_standard))
            runs.append(run)
    return runs
