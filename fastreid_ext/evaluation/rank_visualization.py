"""Rank lists as PNG grids: a query, then its top-k gallery images framed green (same identity)
or red (another identity), labelled with identity, camera and distance (the query with its AP). The
protocol's gallery draw and camera rule are applied (``EvaluationProtocol.pools``), and rankings come
from :func:`.ranking.ranked_rows`, the evaluator's distances with its test-time options."""
from __future__ import annotations

import os

import numpy as np

from .protocol_api import EvaluationProtocol
from .ranking import ranked_rows
from .types import FeatureSet, RankingOptions, TestTimeOptions

__all__ = ["protocol_pools", "ranked_lists", "average_precision", "query_average_precisions", "rows_by_ap",
           "render_rank_grid", "write_rank_grids"]

GREEN, RED, GRAY = (0, 170, 0), (0, 0, 230), (150, 150, 150)  # BGR


def protocol_pools(query: FeatureSet, gallery: FeatureSet, protocol: EvaluationProtocol, task: str, trial: int = 0):
    """(queries, gallery, camera rule) of one trial of one task of ``protocol`` (its ``pools``)."""
    return protocol.pools(query, gallery, task, trial)


def _options(backend="auto", distance="cosine", rerank=None) -> RankingOptions:
    """Ranking options of the older keyword interface (``rerank``: None or (k1, k2, lambda))."""
    tt = TestTimeOptions() if rerank is None else TestTimeOptions(rerank=True, rerank_k1=int(rerank[0]),
                                                                  rerank_k2=int(rerank[1]), rerank_lambda=float(rerank[2]))
    return RankingOptions(backend=backend, distance=distance, test_time=tt)


def _ranked_full(query: FeatureSet, gallery: FeatureSet, feature: str, rows, removal=None, backend="auto",
                 distance="cosine", rerank=None, options: RankingOptions | None = None):
    """For each query row: (gallery indices best first after the camera rule, their distances)."""
    return ranked_rows(query, gallery, feature, rows, options or _options(backend, distance, rerank), removal)


def average_precision(matches) -> float:
    """AP of one ranked list of booleans (nan when there is no true match)."""
    matches = np.asarray(matches, dtype=bool)
    if not matches.any():
        return float("nan")
    hits = np.cumsum(matches)
    return float((hits[matches] / (np.flatnonzero(matches) + 1)).mean())


def query_average_precisions(query: FeatureSet, gallery: FeatureSet, feature: str, removal=None,
                             options: RankingOptions | None = None) -> np.ndarray:
    """AP of every query over its full ranking after the camera rule (nan: no true match left)."""
    ranked = _ranked_full(query, gallery, feature, range(len(query)), removal, options=options)
    return np.array([average_precision(gallery.pids[np.asarray(r, dtype=np.int64)] == query.pids[row])
                     for row, (r, _) in enumerate(ranked)])


def rows_by_ap(aps, order: str = "ascending") -> list[int]:
    """Query rows sorted by AP (fast-reid's ``--rank-sort``): ``ascending`` = worst first,
    ``descending`` = best first; ties by row, queries without a true match (nan) last."""
    if order not in ("ascending", "descending"):
        raise ValueError(f"rank sort must be 'ascending' or 'descending', got {order!r}.")
    aps = np.asarray(aps, dtype=np.float64)
    key = np.where(np.isnan(aps), np.inf, aps if order == "ascending" else -aps)
    return np.argsort(key, kind="stable").tolist()


def ranked_lists(query: FeatureSet, gallery: FeatureSet, feature: str, rows, k: int, removal=None, backend="auto",
                 distance="cosine", options: RankingOptions | None = None):
    """For each query row: gallery indices of its top-k after the camera rule, best first."""
    return [ranked[:k] for ranked, _ in _ranked_full(query, gallery, feature, rows, removal, backend, distance,
                                                      options=options)]


def _tile(path: str, size, color, lines, border: int = 4):
    """An image framed in ``color`` with text lines on a dark band at its bottom (readable on light images)."""
    import cv2  # noqa: PLC0415 - only this tool draws images

    h, w = size
    img = cv2.imread(path, cv2.IMREAD_COLOR) if os.path.isfile(path) else None
    img = np.full((h, w, 3), 90, np.uint8) if img is None else cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    scale = max(0.3, min(0.5, w / 160))  # about 9 px text on a 64-px-wide tile: readable at 100 % zoom
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


def _stack(grids: list) -> np.ndarray:
    """Grids one below the other (white padding to the widest, a white gap between them)."""
    width = max(g.shape[1] for g in grids)
    out = []
    for i, g in enumerate(grids):
        if i:
            out.append(np.full((8, width, 3), 255, np.uint8))
        out.append(np.pad(g, ((0, 0), (0, width - g.shape[1]), (0, 0)), constant_values=255))
    return np.concatenate(out, axis=0)


def write_rank_grids(query: FeatureSet, gallery: FeatureSet, feature: str, rows, k: int, out_dir: str, prefix: str, removal=None,
                     backend="auto", distance="cosine", size=(128, 64), rerank=None,
                     options: RankingOptions | None = None, numbered: bool = False, per_image: int = 1) -> list[str]:
    """Write ``<out_dir>/<prefix>_q<row>.png`` for each query row; returns the paths. ``numbered``
    (rows in a sorted order): ``<prefix>_<position>_AP<ap>_q<row>.png``, so a folder listing keeps the order.
    ``per_image`` > 1: that many queries one below the other per PNG, ``<prefix>_q<first>-q<last>.png``
    (numbered: ``<prefix>_<first position>-<last position>.png``)."""
    import cv2  # noqa: PLC0415

    if per_image < 1:
        raise ValueError(f"per_image must be >= 1, got {per_image}.")
    os.makedirs(out_dir, exist_ok=True)
    rows = list(rows)
    grids, names = [], []
    for i, (row, (ranked, dists)) in enumerate(zip(rows, _ranked_full(query, gallery, feature, rows, removal, backend,
                                                                       distance, rerank, options))):
        ap = average_precision(gallery.pids[np.asarray(ranked, dtype=np.int64)] == query.pids[row])
        names.append(f"{prefix}_{i:03d}_AP{100 * ap:05.1f}_q{row:05d}" if numbered else f"{prefix}_q{row:05d}")
        grids.append(render_rank_grid(query, gallery, row, ranked[:k], size, dists[:k], ap))
    written = []
    for s in range(0, len(grids), per_image):
        e = min(len(grids), s + per_image)
        if e - s == 1:
            name = names[s]
        elif numbered:
            name = f"{prefix}_{s:03d}-{e - 1:03d}"
        else:
            name = f"{prefix}_q{rows[s]:05d}-q{rows[e - 1]:05d}"
        path = os.path.join(out_dir, f"{name}.png")
        if not cv2.imwrite(path, _stack(grids[s:e])):
            raise OSError(f"Could not write {path}.")
        written.append(path)
    return written
