"""Verification view of a ranking (fast-reid's ``TEST.ROC`` idea): TPR at fixed FPR from the distances of
positive (same identity) and negative query-gallery pairs.

A pair is accepted when its distance is at most a threshold; FPR and TPR are the accepted fractions of
negative and positive pairs. ``TPR@FPR=f`` is the largest TPR of a threshold whose FPR is at most f,
i.e. the fraction of positives strictly closer than the ``floor(f · #negatives) + 1``-th closest
negative (ties with that negative are rejected, as they cannot be accepted without it). Not wired into
the evaluator here; it takes the distance matrix and identities the evaluator already has.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["FPR_LEVELS", "split_pair_distances", "tpr_at_fpr"]

FPR_LEVELS = (1e-4, 1e-3, 1e-2, 1e-1)


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
    pos = np.sort(np.asarray(positives, dtype=np.float64).ravel())
    neg = np.sort(np.asarray(negatives, dtype=np.float64).ravel())
    out: dict[float, float] = {}
    for f in fprs:
        if not 0 <= f <= 1:
            raise ValueError(f"FPR levels must be in [0, 1], got {f}.")
        if pos.size == 0 or neg.size == 0:
            out[f] = math.nan
            continue
        k = int(math.floor(f * neg.size + 1e-9))  # negatives that may be accepted
        if k >= neg.size:
            out[f] = 1.0
            continue
        out[f] = float(np.searchsorted(pos, neg[k], side="left")) / pos.size  # positives < the (k+1)-th negative
    return out
