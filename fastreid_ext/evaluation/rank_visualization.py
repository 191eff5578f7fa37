"""Rank lists as PNG grids: a query, then its top-k gallery images framed green (same identity)
or red (another identity), labelled with identity, camera and distance (the query with its AP). The
protocol's gallery and camera rule are applied, as in the metrics."""
from __future__ import annotations

import os

import numpy as np
import torch

from .metrics import SYSU_REMOVAL
from .protocols import draw_sysu_gallery, group_gallery_images
from .ranking import rank_gallery
from .reranking import k_reciprocal_distance
from .types import FeatureSet

__all__ = ["protocol_pools", "ranked_lists", "average_precision", "render_rank_grid", "write_rank_grids"]

GREEN, RED, GRAY = (0, 170, 0), (0, 0, 230), (150, 150, 150)  # BGR


def protocol_pools(query: FeatureSet, gallery: FeatureSet, protocol: str, trial: int = 0, num_shots: int = 10):
    """(query, gallery, removal) of one protocol: SYSU ``<mode>-<shot>`` (gallery of trial ``trial``)
    or RegDB ``visible2infrared`` / ``infrared2visible``."""
    if protocol in ("visible2infrared", "infrared2visible"):
        return (query, gallery, None) if protocol == "visible2infrared" else (gallery, query, None)
    mode, _, shot = protocol.partition("-")
    idx = draw_sysu_gallery(group_gallery_images(gallery.pids, gallery.camids, gallery.paths), mode, shot, trial, num_shots)
    sub = FeatureSet({k: v[torch.as_tensor(idx)] for k, v in gallery.features.items()}, gallery.pids[idx], gallery.camids[idx],
               [gallery.paths[i] for i in idx])
    return query, sub, SYSU_REMOVAL


def _ranked_full(query: FeatureSet, gallery: FeatureSet, feature: str, rows, removal=None, backend="auto", distance="cosine", rerank=None):
    """For each query row: (gallery indices best first after the camera rule, their distances).
    ``rerank``: None, or (k1, k2, lambda) for k-reciprocal re-ranking of the query rows."""
    if feature not in query.features:
        raise KeyError(f"Feature '{feature}' not available; have {sorted(query.features)}.")
    rows = torch.as_tensor(list(rows), dtype=torch.long)
    qf, gf = query.features[feature][rows], gallery.features[feature]
    if rerank is not None:  # all queries re-ranked together, as in the evaluator; then the listed rows
        dist = k_reciprocal_distance(query.features[feature], gf, *rerank, distance=distance, backend=backend)[rows]
        dists, order = torch.sort(dist, dim=1, stable=True)
    else:
        dists, order = rank_gallery(qf, gf, len(gallery), backend, distance)
    out = []
    for r, ranked, d in zip(rows.tolist(), order.tolist(), dists.tolist()):
        if removal is not None and query.camids[r] == removal[0]:
            keep = [i for i, g in enumerate(ranked) if gallery.camids[g] != removal[1]]
            ranked, d = [ranked[i] for i in keep], [d[i] for i in keep]
        out.append((ranked, d))
    return out


def average_precision(matches) -> float:
    """AP of one ranked list of booleans (nan when there is no true match)."""
    matches = np.asarray(matches, dtype=bool)
    if not matches.any():
        return float("nan")
    hits = np.cumsum(matches)
    return float((hits[matches] / (np.flatnonzero(matches) + 1)).mean())


def ranked_lists(query: FeatureSet, gallery: FeatureSet, feature: str, rows, k: int, removal=None, backend="auto", distance="cosine"):
    """For each query row: gallery indices of its top-k after the camera rule, best first."""
    return [ranked[:k] for ranked, _ in _ranked_full(query, gallery, feature, rows, removal, backend, distance)]


def _tile(path: str, size, color, lines, border: int = 4):
    """An image framed in ``color`` with text lines on a dark band at its bottom (readable on light images)."""
    import cv2  # noqa: PLC0415 - only this tool draws images

    h, w = size
    img = cv2.imread(path, cv2.IMREAD_COLOR) if os.path.isfile(path) else None
    img = np.full((h, w, 3), 90, np.uint8) if img is None else cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    scale = max(0.25, min(0.4, w / 200))
    line_h = max(8, int(round(26 * scale)))
    band = min(h, line_h * len(lines) + 2)
    img[h - band :] = (img[h - band :].astype(np.float32) * 0.25).astype(np.uint8)
    for i, text in enumerate(lines):
        y = h - band + (i + 1) * line_h - 1
        cv2.putText(img, text, (2, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return cv2.copyMakeBorder(img, border, border, border, border, cv2.BORDER_CONSTANT, value=color)


def render_rank_grid(query: FeatureSet, gallery: FeatureSet, row: int, ranked, size=(128, 64), distances=None, ap=None) -> np.ndarray:
    """One BGR image: the query (gray frame; id, camera, AP), a gap, then the ranked gallery images
    (green: same identity, red: another; rank, id, camera, distance)."""
    q_pid = query.pids[row]
    q_lines = [f"q id{q_pid}" if q_pid >= 0 else "query", f"cam{query.camids[row]}" if query.camids[row] >= 0 else ""] + ([f"AP {100 * ap:.1f}"] if ap is not None and ap == ap else [])
    tiles = [_tile(query.paths[row], size, GRAY, q_lines)]
    tiles.append(np.full_like(tiles[0][:, :8], 255))
    for rank, g in enumerate(ranked, 1):
        lines = [f"{rank}: id{gallery.pids[g]}", f"cam{gallery.camids[g]}"]
        if distances is not None:
            lines.append(f"d {distances[rank - 1]:.3f}")
        color = GRAY if q_pid < 0 else (GREEN if gallery.pids[g] == q_pid else RED)  # pid < 0: unknown identity
        tiles.append(_tile(gallery.paths[g], size, color, lines))
    return np.concatenate(tiles, axis=1)


def write_rank_grids(query: FeatureSet, gallery: FeatureSet, feature: str, rows, k: int, out_dir: str, prefix: str, removal=None,
                     backend="auto", distance="cosine", size=(128, 64), rerank=None) -> list[str]:
    """Write ``<out_dir>/<prefix>_q<row>.png`` for each query row; returns the paths."""
    import cv2  # noqa: PLC0415

    os.makedirs(out_dir, exist_ok=True)
    written = []
    for row, (ranked, dists) in zip(rows, _ranked_full(query, gallery, feature, rows, removal, backend, distance, rerank)):
        ap = average_precision(gallery.pids[np.asarray(ranked, dtype=np.int64)] == query.pids[row])
        path = os.path.join(out_dir, f"{prefix}_q{row:05d}.png")
        if not cv2.imwrite(path, render_rank_grid(query, gallery, row, ranked[:k], size, dists[:k], ap)):
            raise OSError(f"Could not write {path}.")
        written.append(path)
    return written
