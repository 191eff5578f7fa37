"""Verification view of a ranking (fast-reid's ``TEST.ROC`` idea): TPR at fixed FPR from the distances of
positive (same identity) and negative query-gallery pairs.

A pair is accepted when its distance is at most a threshold; FPR and TPR are the accepted fractions of
negative and positive pairs. ``TPR@FPR=f`` is the largest TPR of a threshold whose FPR is at most f,
i.e. the fraction of positives strictly closer than the ``floor(f · #negatives) + 1``-th closest
negative (ties with that negative are rejected, as they cannot be accepted without it).

The evaluator (:func:`.protocols.run_tasks`) reports :func:`roc_metrics` of the first trial of every
task × feature (``TEST.ROC.ENABLED``), from the pairs the protocol's camera rule keeps
(:func:`source_pair_distances`, block by block from the trial's own distance source). Order statistics
(``np.partition``), not a sort, keep it linear in the number of pairs.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .camera_rules import as_camera_rule
from .distances import rows_per_chunk
from .match_positions import GalleryLayout, Workspace

__all__ = ["FPR_LEVELS", "ROC_METRICS", "roc_metric_name", "split_pair_distances", "tpr_at_fpr",
           "source_pair_distances", "roc_metrics"]

FPR_LEVELS = (1e-4, 1e-3, 1e-2, 1e-1)


def roc_metric_name(fpr: float) -> str:
    """The result-key metric of one level: ``TPR@FPR1e-3`` (no '/', as result keys require)."""
    mantissa, exponent = f"{fpr:.0e}".split("e")
    return f"TPR@FPR{mantissa}e{int(exponent)}"


ROC_METRICS = tuple(roc_metric_name(f) for f in FPR_LEVELS)


def split_pair_distances(distmat, q_pids, g_pids, valid=None) -> tuple[np.ndarray, np.ndarray]:
    """(positive distances, negative distances) of the query × gallery pairs where ``valid`` (a boolean
    matrix like ``distmat``, e.g. excluding a protocol's same-camera gallery) is true (all by default)."""
    d = np.asarray(distmat, dtype=np.float64)
    q, g = np.asarray(q_pids).reshape(-1, 1), np.asarray(g_pids).reshape(1, -1)
    if d.shape != (q.shape[0], g.shape[1]):
        raise ValueError(f"distmat is {d.shape}, expected ({q.shape[0]} queries, {g.shape[1]} gallery).")
    same = q == g
    mask = np.ones_like(same) if valid is None else np.asarray(valid, dtype=bool)
    if mask.shape != d.shape:
        raise ValueError(f"valid is {mask.shape}, expected {d.shape}.")
    return d[same & mask], d[~same & mask]


def tpr_at_fpr(positives, negatives, fprs=FPR_LEVELS) -> dict[float, float]:
    """``{f: TPR at FPR <= f}`` (fractions in [0, 1]; NaN when either set is empty)."""
    pos, neg = (np.asarray(x).ravel() for x in (positives, negatives))
    pos, neg = (x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64) for x in (pos, neg))
    ks = {}
    for f in fprs:
        if not 0 <= f <= 1:
            raise ValueError(f"FPR levels must be in [0, 1], got {f}.")
        ks[f] = int(math.floor(f * neg.size + 1e-9))  # negatives that may be accepted
    if pos.size == 0 or neg.size == 0:
        return {f: math.nan for f in fprs}
    kth = sorted({k for k in ks.values() if k < neg.size})
    part = np.partition(neg, kth) if kth else neg  # part[k] is the (k+1)-th smallest negative
    return {f: 1.0 if k >= neg.size else float(np.count_nonzero(pos < part[k])) / pos.size  # positives < it
            for f, k in ks.items()}


def source_pair_distances(source, q_pids, g_pids, q_camids=None, g_camids=None, removal=None,
                          workspace: Workspace | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(positive, negative) distances of the pairs of a :class:`~.types.DistanceSource` that the camera
    rule ``removal`` keeps (as the metrics: a restricted query ignores the removed gallery cameras, a
    same-camera rule drops a query's own identity in its camera), read block by block in gallery order."""
    q_pids, g_pids = np.asarray(q_pids).reshape(-1), np.asarray(g_pids).reshape(-1)
    rule = as_camera_rule(removal)
    q_res, g_rem = (None, None) if rule is None else rule.pair_masks(q_camids, g_camids)
    q_cam, g_cam = (None, None) if rule is None else rule.match_cameras(q_camids, g_camids)
    dev = source.device
    source.set_layout(GalleryLayout.build(np.zeros(len(g_pids), dtype=np.int64), device=dev))  # identity order
    workspace = workspace or Workspace()
    gp = torch.as_tensor(g_pids, device=dev)
    g_rem_t = None if g_rem is None else torch.as_tensor(g_rem, device=dev)
    g_cam_t = None if g_cam is None else torch.as_tensor(g_cam, device=dev)
    pos, neg = [], []
    rows = rows_per_chunk(len(g_pids))
    for i0 in range(0, len(q_pids), rows):
        i1 = min(i0 + rows, len(q_pids))
        block = source.regrouped(i0, i1, workspace)
        same = torch.as_tensor(q_pids[i0:i1], device=dev).unsqueeze(1) == gp.unsqueeze(0)
        keep = torch.ones_like(same)
        if q_res is not None:
            keep &= ~(torch.as_tensor(q_res[i0:i1], device=dev).unsqueeze(1) & g_rem_t.unsqueeze(0))
        if q_cam is not None:
            keep &= ~(same & (torch.as_tensor(q_cam[i0:i1], device=dev).unsqueeze(1) == g_cam_t.unsqueeze(0)))
        pos.append(block[same & keep].float().cpu())
        neg.append(block[~same & keep].float().cpu())
    return torch.cat(pos).numpy(), torch.cat(neg).numpy()


def roc_metrics(source, q_pids, g_pids, q_camids=None, g_camids=None, removal=None, workspace=None) -> dict[str, float]:
    """``{"TPR@FPR1e-4": percent, ...}`` of one trial (see :func:`source_pair_distances`)."""
    pos, neg = source_pair_distances(source, q_pids, g_pids, q_camids, g_camids, removal, workspace)
    return {roc_metric_name(f): 100.0 * v for f, v in tpr_at_fpr(pos, neg).items()}
