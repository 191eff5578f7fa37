"""Rank lists as PNG grids: a query, then its top-k gallery images framed green (same identity)
or red (another identity). The protocol's gallery and camera rule are applied, as in the metrics."""
from __future__ import annotations

import os

import numpy as np
import torch

from .metrics import SYSU_REMOVAL
from .protocols import draw_sysu_gallery, group_gallery_images
from .ranking import rank_gallery
from .types import FeatureSet

__all__ = ["protocol_pools", "ranked_lists", "render_rank_grid", "write_rank_grids"]

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


def ranked_lists(query: FeatureSet, gallery: FeatureSet, feature: str, rows, k: int, removal=None, backend="auto", distance="cosine"):
    """For each query row: gallery indices of its top-k after the camera rule, best first."""
    if feature not in query.features:
        raise KeyError(f"Feature '{feature}' not available; have {sorted(query.features)}.")
    rows = torch.as_tensor(list(rows), dtype=torch.long)
    _, order = rank_gallery(query.features[feature][rows], gallery.features[feature], len(gallery), backend, distance)
    lists = []
    for r, ranked in zip(rows.tolist(), order.tolist()):
        if removal is not None and query.camids[r] == removal[0]:
            ranked = [g for g in ranked if gallery.camids[g] != removal[1]]
        lists.append(ranked[:k])
    return lists


def _tile(path: str, size, color, label: str, border: int = 4):
    import cv2  # noqa: PLC0415 - only this tool draws images

    h, w = size
    img = cv2.imread(path, cv2.IMREAD_COLOR) if os.path.isfile(path) else None
    img = np.full((h, w, 3), 90, np.uint8) if img is None else cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    img = cv2.copyMakeBorder(img, border, border, border, border, cv2.BORDER_CONSTANT, value=color)
    cv2.putText(img, label, (border + 1, h + border - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.3, (255, 255, 255), 1, cv2.LINE_AA)
    return img


def render_rank_grid(query: FeatureSet, gallery: FeatureSet, row: int, ranked, size=(128, 64)) -> np.ndarray:
    """One BGR image: the query (gray frame), a gap, then the ranked gallery images."""
    q_pid = query.pids[row]
    tiles = [_tile(query.paths[row], size, GRAY, f"q {q_pid}")]
    tiles.append(np.full_like(tiles[0][:, :8], 255))
    for rank, g in enumerate(ranked, 1):
        tiles.append(_tile(gallery.paths[g], size, GREEN if gallery.pids[g] == q_pid else RED, f"{rank}:{gallery.pids[g]}"))
    return np.concatenate(tiles, axis=1)


def write_rank_grids(query: FeatureSet, gallery: FeatureSet, feature: str, rows, k: int, out_dir: str, prefix: str, removal=None,
                     backend="auto", distance="cosine", size=(128, 64)) -> list[str]:
    """Write ``<out_dir>/<prefix>_q<row>.png`` for each query row; returns the paths."""
    import cv2  # noqa: PLC0415

    os.makedirs(out_dir, exist_ok=True)
    written = []
    for row, ranked in zip(rows, ranked_lists(query, gallery, feature, rows, k, removal, backend, distance)):
        path = os.path.join(out_dir, f"{prefix}_q{row:05d}.png")
        if not cv2.imwrite(path, render_rank_grid(query, gallery, row, ranked, size)):
            raise OSError(f"Could not write {path}.")
        written.append(path)
    return written
