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

import math
import queue
from contextlib import nullcontext
from functools import partial

import numpy as np
import torch

from .camera_rules import as_camera_rule
from .distances import MatrixSource, rows_per_chunk
from .match_positions import ChunkStats, GalleryLayout, Workspace, bucket_chunk_stats
from .sysu_protocol import SYSU_REMOVAL
from .types import DistanceSource, RetrievalMetrics
from ..utils.threads import map_in_order, per_thread_intra_op

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


# The kernel scores a block in row pieces of at most about PIECE_ELEMENTS (16 MiB of float32) and at
# least MIN_PIECE_ELEMENTS (smaller pieces cost more in per-pass overhead than they save). Measured on
# the 2-core machine, SYSU camera rule, medians of 9 (docs/benchmarks.md, "Third pass"): two
# row workers scored a 3803 x 3010 block in 100 ms and a 335 x 100,000 one in 193 ms, against 164 ms and
# 373 ms whole on two OpenMP threads; pieces of 2^20 / 2^16 gave 98 / 258 ms.
PIECE_ELEMENTS = 1 << 22
MIN_PIECE_ELEMENTS = 1 << 18


def _row_workers(setting: int, device: torch.device) -> int:
    """Row workers for the kernel of one block: under auto (``kernel_threads`` 0) on CPU, the caller's
    intra-op threads where torch's thread setting is per thread (OpenMP); else 1 (the pieces one after
    another on the probed or explicit threads)."""
    if setting != 0 or device.type != "cpu":
        return 1
    n = torch.get_num_threads()
    return n if n > 1 and per_thread_intra_op() else 1


def _num_pieces(rows: int, cols: int, workers: int, device: torch.device) -> int:
    """Row pieces of one block: enough for the cache (``PIECE_ELEMENTS``) and, with several workers, four
    per worker (a piece slowed by a busy core then delays little); one on a GPU (one launch per pass)."""
    if device.type != "cpu":
        return 1
    want = max(math.ceil(rows * cols / PIECE_ELEMENTS), 4 * workers if workers > 1 else 1)
    return max(1, min(want, rows // math.ceil(MIN_PIECE_ELEMENTS / max(cols, 1))))


def _piece_stats(i0: int, i1: int, block, q_index, q_res, q_cams, layout, identity_cmc, workspace):
    cut = lambda t: None if t is None else t[i0:i1]  # noqa: E731
    return bucket_chunk_stats(block[i0:i1], q_index[i0:i1], cut(q_res), layout, identity_cmc, workspace=workspace,
                              q_cams=cut(q_cams))


def _block_stats(block, q_index, q_res, q_cams, layout, identity_cmc, pieces: int, workers: int,
                 workspace: Workspace):
    """The block's stats from ``pieces`` row pieces. ``workers > 1``: scored by that many threads, each on
    one intra-op thread with a workspace of its own (``map_in_order``); no barrier between the threads,
    so a core taken by another process slows the pieces on it instead of every pass of the block, and one
    piece's serial passes overlap another's. Per-row results do not depend on the pieces
    (``bucket_chunk_stats`` splits long blocks the same way): the same numbers."""
    c = block.shape[0]
    step = math.ceil(c / pieces)
    args = (block, q_index, q_res, q_cams, layout, identity_cmc)
    if pieces == 1:
        return bucket_chunk_stats(block, q_index, q_res, layout, identity_cmc, workspace=workspace, q_cams=q_cams)
    free: queue.SimpleQueue = queue.SimpleQueue()  # one workspace per worker; the caller's when it is alone
    for w in workspace.children(workers) if workers > 1 else [workspace]:
        free.put(w)
    jobs = (partial(_piece_stats, i, min(c, i + step), *args) for i in range(0, c, step))
    return ChunkStats.concat(list(map_in_order(jobs, workers, free.get)))


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
    ``kernel_threads``: torch intra-op threads of the kernel on CPU (0: a block's row pieces scored by
    as many single-threaded row workers as the caller has intra-op threads, :func:`_block_stats`;
    where that cannot run, the faster of the caller's threads and one, probed on the first blocks of
    the workspace's run: :class:`~fastreid_ext.utils.threads.ThreadProbe`; n > 0: n intra-op threads);
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
    workers = _row_workers(kernel_threads, torch.device(dev))
    for i0 in range(0, nq, rows):
        i1 = min(nq, i0 + rows)
        qr = None if q_res_t is None else q_res_t[i0:i1]
        block = source.regrouped(i0, i1, workspace)
        qc = None if q_cam_t is None else q_cam_t[i0:i1]
        pieces = _num_pieces(i1 - i0, ng, workers, block.device)
        if workers > 1 and pieces > 1:  # the workers' own threads: no probe
            s = _block_stats(block, q_index[i0:i1], qr, qc, layout, identity_cmc, pieces, workers, workspace)
        else:
            threads = workspace.thread_probe(kernel_threads).run(block.numel()) if block.device.type == "cpu" else nullcontext()
            with threads:
                s = _block_stats(block, q_index[i0:i1], qr, qc, layout, identity_cmc, pieces, 1, workspace)
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
