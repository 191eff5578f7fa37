"""Failure analysis by camera: Rank-1 and mAP of every (query camera, gallery camera) pair of a trial,
i.e. the trial's scoring restricted to the queries of one camera and the gallery items of another,
under the protocol's camera rule. Written to ``results.json`` (``breakdown``: a section of its own, not
result keys, as its size grows with the cameras) and logged as a table, for the first trial of each
task × feature (``TEST.CAMERA_BREAKDOWN.ENABLED``)."""
from __future__ import annotations

import logging

import numpy as np
import torch
from tabulate import tabulate

from .distances import DistanceMatrix, MatrixSource, rows_per_chunk
from .match_positions import GalleryLayout, Workspace
from .metrics import compute_metrics

__all__ = ["camera_pair_breakdown", "breakdown_table"]

logger = logging.getLogger(__name__)


def camera_pair_breakdown(source, q_pids, g_pids, q_camids, g_camids, removal=None, identity_cmc: bool = True,
                          max_rank: int = 20) -> list[dict]:
    """``[{"query_camera", "gallery_camera", "num_queries", "gallery_size", "Rank-1", "mAP"}]`` (percent)
    of the pairs where some query keeps a true match; ``num_queries`` counts those queries. Needs the
    trial's distances as one matrix: skipped (``[]``, logged) when it would not fit."""
    if q_camids is None or g_camids is None:
        return []
    nq, ng = source.num_query, source.num_gallery
    if not DistanceMatrix.fits(nq, ng):
        logger.info("Camera breakdown skipped: %d x %d distances do not fit in memory.", nq, ng)
        return []
    source.set_layout(GalleryLayout.build(np.zeros(ng, dtype=np.int64), device=source.device))  # gallery order
    d = torch.empty(nq, ng, dtype=torch.float32, device=source.device)
    workspace, rows = Workspace(), rows_per_chunk(ng)
    for i0 in range(0, nq, rows):
        d[i0 : i0 + rows] = source.regrouped(i0, min(nq, i0 + rows), workspace)
    q_pids, g_pids = np.asarray(q_pids).reshape(-1), np.asarray(g_pids).reshape(-1)
    q_camids, g_camids = np.asarray(q_camids).reshape(-1), np.asarray(g_camids).reshape(-1)
    out = []
    for qc in np.unique(q_camids):
        qs = np.flatnonzero(q_camids == qc)
        for gc in np.unique(g_camids):
            gs = np.flatnonzero(g_camids == gc)
            if not np.isin(q_pids[qs], g_pids[gs]).any():
                continue  # no identity of these queries in this camera
            sub = d.index_select(0, torch.as_tensor(qs, device=d.device)).index_select(1, torch.as_tensor(gs, device=d.device))
            try:
                m = compute_metrics(MatrixSource(sub), q_pids[qs], g_pids[gs], q_camids[qs], g_camids[gs], removal,
                                    max_rank, identity_cmc, workspace=workspace)
            except ValueError:  # every match of this pair removed by the camera rule (SYSU: camera 3 -> 2)
                continue
            out.append({"query_camera": int(qc), "gallery_camera": int(gc), "num_queries": int(m.num_valid),
                        "gallery_size": int(len(gs)), "Rank-1": 100.0 * float(m.cmc[0]), "mAP": 100.0 * float(m.mAP)})
    return out


def breakdown_table(runs) -> str:
    """One row per (task, feature, query camera, gallery camera) of the runs' first-trial breakdowns."""
    rows = [[run.task, run.prefix, f"{p['query_camera']} -> {p['gallery_camera']}", p["num_queries"], p["gallery_size"],
             f"{p['Rank-1']:.2f}", f"{p['mAP']:.2f}"] for run in runs for p in run.camera_pairs]
    return tabulate(rows, headers=["protocol", "feature", "cameras (query -> gallery)", "queries", "gallery", "Rank-1",
                                   "mAP"], tablefmt="pipe", disable_numparse=True)
