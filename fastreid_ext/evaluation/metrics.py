"""Cross-modal re-id metrics: drop-in ``eval_sysu`` / ``eval_regdb`` and the chunked engine behind them.

Same arguments, return values and numbers as the community functions (AGW ``eval_metrics.py``; see
docs/protocols.md, "Evaluation metrics") on inputs without distance ties, computed without a per-query loop, in chunks of query
rows (bounded memory), on the device of the inputs. Deliberate differences, all documented:

* **Ties** are broken by gallery index (a stable ranking); the community ``np.argsort`` quicksort
  breaks them arbitrarily.
* **Queries without a true match** (identity absent, or every match removed by the camera rule)
  are skipped for mAP, mINP and both CMCs, which are divided by the number of valid queries. This
  is exactly what the community numbers are (its author-CMC rows of such queries are all zeros).
  :class:`RetrievalMetrics` also reports how many queries were skipped; no valid query at all, or
  an empty query or gallery, raises ``ValueError``.
* **Fewer ranked items than ``max_rank``**: the CMC keeps ``max_rank`` entries, padded with its last
  value (the community code shortens it, or fails on ragged rows).
"""
from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import torch

from .camera_rules import as_camera_rule
from .distances import MatrixSource, rows_per_chunk
from .match_positions import GalleryLayout, Workspace, bucket_chunk_stats
from .sysu_protocol import SYSU_REMOVAL
from .types import DistanceSource, RetrievalMetrics

__all__ = ["RetrievalMetrics", "eval_sysu", "eval_regdb", "compute_metrics", "chance_rank1", "SYSU_REMOVAL"]


def _check_sizes(num_q: int, num_g: int, arrays: dict) -> None:
    if num_q == 0 or num_g == 0:
        raise ValueError(f"Empty query or gallery set: {num_q} queries and {num_g} gallery items; both must be non-empty.")
    for name, (arr, n) in arrays.items():
        if arr is not None and len(arr) != n:
            raise ValueError(f"{name} has {len(arr)} entries, expected {n}.")


def _restriction(q_camids, g_camids, removal):
    """(restricted queries, removed gallery items) of a camera-pair rule, else (None, None)."""
    rule = as_camera_rule(removal)
    return (None, None) if rule is None else rule.pair_masks(q_camids, g_camids)


def _match_cameras(q_camids, g_camids, removal):
    """(query cameras, gallery cameras) of a same-camera rule, else (None, None)."""
    rule = as_camera_rule(removal)
    return (None, None) if rule is None else rule.match_cameras(q_camids, g_camids)


def compute_metrics(
    source: DistanceSource,
    q_pids,
    g_pids,
    q_camids=None,
    g_camids=None,
    removal=None,
    max_rank: int = 20,
    identity_cmc: bool = True,
    max_rows: int = 0,
    workspace: Workspace | None = None,
    kernel_threads: int = 0,
) -> RetrievalMetrics:
    """Metrics of one gallery from any :class:`~.types.DistanceSource`; ``removal``: the protocol's
    :class:`~.camera_rules.CameraRule` (or a ``(qcam, gcam)`` pair: queries of camera qcam ignore
    gallery items of camera gcam, SYSU's ``SYSU_REMOVAL``). The work
    buffers belong to this call, or to the caller's ``workspace`` (reused across a run's trials).
    ``kernel_threads``: torch intra-op threads of the kernel on CPU (0: the faster of the caller's and
    one, probed on the first blocks of the workspace's run: :class:`~fastreid_ext.utils.threads.ThreadProbe`);
    the distance blocks keep the caller's."""
    nq, ng = source.num_query, source.num_gallery
    _check_sizes(nq, ng, {"q_pids": (q_pids, nq), "g_pids": (g_pids, ng), "q_camids": (q_camids, nq), "g_camids": (g_camids, ng)})
    if max_rank < 1:
        raise ValueError(f"max_rank must be >= 1, got {max_rank}.")
    dev = source.device
    q_res, g_rem = _restriction(q_camids, g_camids, removal)
    q_cam, g_cam = _match_cameras(q_camids, g_camids, removal)
    layout = GalleryLayout.build(g_pids, g_rem, device=dev, match_cams=g_cam)
    source.set_layout(layout)
    q_index = layout.query_index(q_pids)
    q_res_t = None if q_res is None else torch.as_tensor(q_res, device=dev)
    q_cam_t = None if q_cam is None else torch.as_tensor(q_cam, device=dev)
    workspace = workspace if workspace is not None else Workspace()
    # per chunk: sums of AP and INP and histograms of the first-match position and of the identity
    # rank (clamped to max_rank + 1) over the valid queries, i.e. those with a kept true match
    hist_std = np.zeros(max_rank + 1, np.int64)
    hist_id = np.zeros(max_rank + 1, np.int64)
    ap = inp = 0.0
    num_valid = 0
    rows = rows_per_chunk(ng, max_rows)
    for i0 in range(0, nq, rows):
        i1 = min(nq, i0 + rows)
        qr = None if q_res_t is None else q_res_t[i0:i1]
        block = source.regrouped(i0, i1, workspace)
        threads = workspace.thread_probe(kernel_threads).run(block.numel()) if block.device.type == "cpu" else nullcontext()
        with threads:
            s = bucket_chunk_stats(block, q_index[i0:i1], qr, layout, identity_cmc, workspace=workspace,
                                   q_cams=None if q_cam_t is None else q_cam_t[i0:i1])
        valid = s.num_matches > 0
        num_valid += int(valid.sum())
        ap += float(s.ap[valid].sum())
        inp += float(s.inp[valid].sum())
        hist_std += torch.bincount(s.first_pos[valid].clamp(1, max_rank + 1) - 1, minlength=max_rank + 1).cpu().numpy()
        if identity_cmc:
            hist_id += torch.bincount(s.id_rank[valid].clamp(1, max_rank + 1) - 1, minlength=max_rank + 1).cpu().numpy()
    if num_valid == 0:
        raise ValueError(
            f"No valid query: none of the {nq} queries has a true match in its gallery "
            f"(identities absent, or every match removed by the camera rule)."
        )
    std = (np.cumsum(hist_std[:max_rank]) / float(num_valid)).astype(np.float32)
    ident = (np.cumsum(hist_id[:max_rank]) / float(num_valid)).astype(np.float32) if identity_cmc else None
    return RetrievalMetrics(ident if identity_cmc else std, std, ident, ap / num_valid, inp / num_valid, num_valid, nq)


def chance_rank1(q_pids, g_pids, q_camids=None, g_camids=None, removal=None) -> float:
    """Rank-1 (fraction) of a random ranking of the same gallery: per valid query, its true matches
    over the gallery items it may rank (after the camera rule), averaged as the metrics above are
    (queries without a kept true match skipped). Tables print it so a Rank-1 can be read against it."""
    q_pids, g_pids = np.asarray(q_pids).reshape(-1), np.asarray(g_pids).reshape(-1)
    rule = as_camera_rule(removal)
    if rule is None:
        from .camera_rules import _pid_counts  # noqa: PLC0415

        matches, kept = _pid_counts(q_pids, g_pids), np.full(len(q_pids), float(len(g_pids)))
    else:
        matches, kept = rule.chance_counts(q_pids, g_pids, q_camids, g_camids)
    valid = matches > 0
    if not valid.any():
        raise ValueError(f"No valid query: none of the {len(q_pids)} queries has a true match in its gallery.")
    return float((matches[valid] / kept[valid]).mean())


def eval_sysu(distmat, q_pids, g_pids, q_camids, g_camids, max_rank: int = 20):
    """SYSU-MM01 metrics: (author CMC[:max_rank], mAP, mINP), as the community ``eval_sysu``."""
    m = compute_metrics(MatrixSource(distmat), q_pids, g_pids, q_camids, g_camids, SYSU_REMOVAL, max_rank, True)
    return m.cmc, m.mAP, m.mINP


def eval_regdb(distmat, q_pids, g_pids, max_rank: int = 20):
    """RegDB metrics: (standard CMC[:max_rank], mAP, mINP), as the community ``eval_regdb``."""
    m = compute_metrics(MatrixSource(distmat), q_pids, g_pids, None, None, None, max_rank, False)
    return m.cmc, m.mAP, m.mINP
