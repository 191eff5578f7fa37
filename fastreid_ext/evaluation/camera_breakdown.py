"""Failure analysis by camera and by attribute, for the first trial of each task × feature
(``TEST.CAMERA_BREAKDOWN.ENABLED``):

* Rank-1 and mAP of every (query camera, gallery camera) pair, i.e. the trial's scoring restricted to the
  queries of one camera and the gallery items of another, under the protocol's camera rule
  (``results.json`` ``breakdown``);
* Rank-1 and mAP of the queries with each value of each annotated attribute against the whole trial
  gallery: which attributes fail (``results.json`` ``attribute_breakdown``).

Sections of their own, not result keys, as their size grows with the cameras and attributes; both are
logged as tables."""
from __future__ import annotations

import logging

import numpy as np
import torch
from tabulate import tabulate

from .distances import DistanceMatrix, MatrixSource, rows_per_chunk
from .match_positions import GalleryLayout, Workspace
from .metrics import compute_metrics

__all__ = ["camera_pair_breakdown", "breakdown_table", "attribute_breakdown", "attribute_breakdown_table",
           "trial_matrix"]

logger = logging.getLogger(__name__)


def trial_matrix(source) -> torch.Tensor | None:
    """The trial's (num_query, num_gallery) distances in gallery order, or None (logged) when they would
    not fit in memory."""
    nq, ng = source.num_query, source.num_gallery
    if not DistanceMatrix.fits(nq, ng):
        logger.info("Breakdowns skipped: %d x %d distances do not fit in memory.", nq, ng)
        return None
    source.set_layout(GalleryLayout.build(np.zeros(ng, dtype=np.int64), device=source.device))  # gallery order
    d = torch.empty(nq, ng, dtype=torch.float32, device=source.device)
    workspace, rows = Workspace(), rows_per_chunk(ng)
    for i0 in range(0, nq, rows):
        d[i0 : i0 + rows] = source.regrouped(i0, min(nq, i0 + rows), workspace)
    return d


def _scored(d, qs, gs, q_pids, g_pids, q_camids, g_camids, removal, identity_cmc, max_rank, workspace):
    """(valid queries, Rank-1, mAP) of the rows ``qs`` × columns ``gs`` (``gs`` None: every column), or None."""
    sub = d.index_select(0, torch.as_tensor(qs, device=d.device))
    if gs is not None:
        sub = sub.index_select(1, torch.as_tensor(gs, device=d.device))
    g = slice(None) if gs is None else gs
    try:
        m = compute_metrics(MatrixSource(sub), q_pids[qs], g_pids[g], None if q_camids is None else q_camids[qs],
                            None if g_camids is None else g_camids[g], removal, max_rank, identity_cmc, workspace=workspace)
    except ValueError:  # no query keeps a true match (e.g. SYSU: camera 3 -> 2)
        return None
    return int(m.num_valid), 100.0 * float(m.cmc[0]), 100.0 * float(m.mAP)


def camera_pair_breakdown(source, q_pids, g_pids, q_camids, g_camids, removal=None, identity_cmc: bool = True,
                          max_rank: int = 20, d: torch.Tensor | None = None) -> list[dict]:
    """``[{"query_camera", "gallery_camera", "num_queries", "gallery_size", "Rank-1", "mAP"}]`` (percent)
    of the pairs where some query keeps a true match; ``num_queries`` counts those queries. Needs the
    trial's distances as one matrix (``d``, else read from ``source``): ``[]`` when it would not fit."""
    if q_camids is None or g_camids is None:
        return []
    d = trial_matrix(source) if d is None else d
    if d is None:
        return []
    q_pids, g_pids = np.asarray(q_pids).reshape(-1), np.asarray(g_pids).reshape(-1)
    q_camids, g_camids = np.asarray(q_camids).reshape(-1), np.asarray(g_camids).reshape(-1)
    out, workspace = [], Workspace()
    for qc in np.unique(q_camids):
        qs = np.flatnonzero(q_camids == qc)
        for gc in np.unique(g_camids):
            gs = np.flatnonzero(g_camids == gc)
            if not np.isin(q_pids[qs], g_pids[gs]).any():
                continue  # no identity of these queries in this camera
            scored = _scored(d, qs, gs, q_pids, g_pids, q_camids, g_camids, removal, identity_cmc, max_rank, workspace)
            if scored is not None:
                out.append({"query_camera": int(qc), "gallery_camera": int(gc), "num_queries": scored[0],
                            "gallery_size": int(len(gs)), "Rank-1": scored[1], "mAP": scored[2]})
    return out


def attribute_breakdown(d: torch.Tensor, q_pids, g_pids, q_camids, g_camids, q_attributes, q_mask, names,
                        removal=None, identity_cmc: bool = True, max_rank: int = 20) -> list[dict]:
    """``[{"attribute", "value", "num_queries", "Rank-1", "mAP"}]`` (percent): the queries whose attribute
    is annotated with that value (0/1) against the whole trial gallery, under the camera rule."""
    if d is None or q_attributes is None or not len(names):
        return []
    q_attributes, q_mask = np.asarray(q_attributes), np.asarray(q_mask, dtype=bool)
    if q_attributes.ndim != 2 or q_attributes.shape[1] != len(names):
        return []
    q_pids, g_pids = np.asarray(q_pids).reshape(-1), np.asarray(g_pids).reshape(-1)
    q_camids = None if q_camids is None else np.asarray(q_camids).reshape(-1)
    g_camids = None if g_camids is None else np.asarray(g_camids).reshape(-1)
    out, workspace = [], Workspace()
    for j, name in enumerate(names):
        for value in (1, 0):
            qs = np.flatnonzero(q_mask[:, j] & ((q_attributes[:, j] > 0.5) == bool(value)))
            if not len(qs):
                continue
            scored = _scored(d, qs, None, q_pids, g_pids, q_camids, g_camids, removal, identity_cmc, max_rank, workspace)
            if scored is not None:
                out.append({"attribute": str(name), "value": value, "num_queries": scored[0], "Rank-1": scored[1],
                            "mAP": scored[2]})
    return out


def breakdown_table(runs) -> str:
    """One row per (task, feature, query camera, gallery camera) of the runs' first-trial breakdowns."""
    rows = [[run.task, run.prefix, f"{p['query_camera']} -> {p['gallery_camera']}", p["num_queries"], p["gallery_size"],
             f"{p['Rank-1']:.2f}", f"{p['mAP']:.2f}"] for run in runs for p in run.camera_pairs]
    return tabulate(rows, headers=["protocol", "feature", "cameras (query -> gallery)", "queries", "gallery", "Rank-1",
                                   "mAP"], tablefmt="pipe", disable_numparse=True)


def attribute_breakdown_table(runs) -> str:
    """One row per (task, feature, attribute, value) of the runs' first-trial attribute breakdowns."""
    rows = [[run.task, run.prefix, a["attribute"], a["value"], a["num_queries"], f"{a['Rank-1']:.2f}", f"{a['mAP']:.2f}"]
            for run in runs for a in run.attribute_groups]
    return tabulate(rows, headers=["protocol", "feature", "attribute", "value", "queries", "Rank-1", "mAP"],
                    tablefmt="pipe", disable_numparse=True)
