"""Camera rules: which gallery items a query may not be matched against, as a protocol declares them.

Two kinds cover the cross-modality benchmarks, and the metric kernel handles both exactly:

* :class:`CameraPairRule` (SYSU-MM01): queries of one camera ignore *every* gallery item of another
  camera (SYSU: infrared camera 3 and visible camera 2 are in the same room);
* :class:`SameCameraRule` (LLCM, and Market-1501-style protocols): a query's own identity is not
  counted in the gallery images of the query's camera (the match is too easy), other identities stay.

A protocol holds one rule (or none); ``compute_metrics`` and ``chance_rank1`` take it as ``removal``
(the tuple ``(query camera, gallery camera)`` is still accepted as a :class:`CameraPairRule`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CameraRule", "CameraPairRule", "SameCameraRule", "as_camera_rule"]


class CameraRule:
    """Base: ``pair_masks`` for rules that drop whole gallery cameras for some queries,
    ``match_cameras`` for rules that drop a query's matches in its own camera."""

    def pair_masks(self, q_camids, g_camids) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(restricted queries, removed gallery items) booleans, or (None, None)."""
        return None, None

    def match_cameras(self, q_camids, g_camids) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(query cameras, gallery cameras) when a match in the query's own camera is removed, else (None, None)."""
        return None, None

    def chance_counts(self, q_pids, g_pids, q_camids, g_camids) -> tuple[np.ndarray, np.ndarray]:
        """Per query: (true matches it may rank, gallery items it may rank) after the rule."""
        raise NotImplementedError


def _pid_counts(q_pids, g_pids, g_mask=None) -> np.ndarray:
    """Per query: gallery items of its identity (restricted to ``g_mask``)."""
    pids = g_pids if g_mask is None else g_pids[g_mask]
    uniq, counts = np.unique(pids, return_counts=True)
    pos = np.searchsorted(uniq, q_pids).clip(0, max(len(uniq) - 1, 0))
    found = (uniq[pos] == q_pids) if len(uniq) else np.zeros(len(q_pids), bool)
    return np.where(found, counts[pos] if len(uniq) else 0, 0).astype(np.float64)


@dataclass(frozen=True)
class CameraPairRule(CameraRule):
    """Queries of ``query_camera`` ignore every gallery item of ``gallery_camera``."""

    query_camera: int
    gallery_camera: int

    def pair_masks(self, q_camids, g_camids):
        if q_camids is None or g_camids is None:
            return None, None
        return (np.asarray(q_camids).reshape(-1) == self.query_camera,
                np.asarray(g_camids).reshape(-1) == self.gallery_camera)

    def chance_counts(self, q_pids, g_pids, q_camids, g_camids):
        q_res, g_rem = self.pair_masks(q_camids, g_camids)
        matches = _pid_counts(q_pids, g_pids)
        kept = np.full(len(q_pids), float(len(g_pids)))
        if q_res is not None:
            matches -= np.where(q_res, _pid_counts(q_pids, g_pids, g_rem), 0.0)
            kept -= np.where(q_res, float(g_rem.sum()), 0.0)
        return matches, kept


@dataclass(frozen=True)
class SameCameraRule(CameraRule):
    """A query's identity does not count in the gallery images of the query's own camera (the
    community ``eval_llcm``: items with the query's pid *and* camera are removed)."""

    def match_cameras(self, q_camids, g_camids):
        if q_camids is None or g_camids is None:
            return None, None
        return np.asarray(q_camids).reshape(-1), np.asarray(g_camids).reshape(-1)

    def chance_counts(self, q_pids, g_pids, q_camids, g_camids):
        matches = _pid_counts(q_pids, g_pids)
        if q_camids is None or g_camids is None:
            return matches, np.full(len(q_pids), float(len(g_pids)))
        q_cams, g_cams = self.match_cameras(q_camids, g_camids)
        same = np.zeros(len(q_pids))
        for cam in np.unique(q_cams):  # a handful of cameras: one vectorised count each
            sel = q_cams == cam
            same[sel] = _pid_counts(q_pids[sel], g_pids, g_cams == cam)
        return matches - same, len(g_pids) - same


def as_camera_rule(removal) -> CameraRule | None:
    """``None``, a :class:`CameraRule`, or the legacy ``(query camera, gallery camera)`` tuple."""
    if removal is None or isinstance(removal, CameraRule):
        return removal
    if isinstance(removal, (tuple, list)) and len(removal) == 2:
        return CameraPairRule(int(removal[0]), int(removal[1]))
    raise TypeError(f"A camera rule must be a CameraRule or a (query camera, gallery camera) pair, got {removal!r}.")
