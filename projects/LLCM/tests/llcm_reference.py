"""An independent loop re-implementation of the public LLCM evaluation (``DEEN/data_manager.py``'s
``process_gallery_llcm`` draw and ``eval_llcm``), written for these tests from reading that code:
plain Python and numpy, one query at a time, nothing shared with the toolkit's vectorised path."""
from __future__ import annotations

import os
import random

import numpy as np


def draw_one_per_id_camera(paths, pids, cams, trial):
    """``random.seed(trial)``; ids ascending, cameras ascending, one ``random.choice`` of the sorted
    file list per (id, camera) folder that exists."""
    random.seed(trial)
    picked = []
    for pid in sorted(set(int(p) for p in pids)):
        for cam in sorted(set(int(c) for c in cams)):
            files = sorted(p for p, i, c in zip(paths, pids, cams) if i == pid and c == cam)
            if files:
                picked.append(random.choice(files))
    index = {p: i for i, p in enumerate(paths)}
    return [index[p] for p in picked]


def eval_llcm_loop(distmat, q_pids, g_pids, q_cams, g_cams, max_rank=20):
    """(author CMC, mAP, mINP): items with the query's pid and camera removed, CMC over distinct ids."""
    cmcs, aps, inps = [], [], []
    for i in range(len(q_pids)):
        order = np.argsort(distmat[i], kind="stable")
        keep = ~((g_pids[order] == q_pids[i]) & (g_cams[order] == q_cams[i]))
        ranked = g_pids[order][keep]
        hits = ranked == q_pids[i]
        if not hits.any():
            continue
        seen, ids = set(), []
        for pid in ranked:
            if pid not in seen:
                seen.add(pid)
                ids.append(pid)
        id_hits = np.cumsum(np.array(ids) == q_pids[i])[:max_rank]
        cmcs.append(np.pad(id_hits, (0, max(0, max_rank - len(id_hits))), mode="edge"))
        positions = np.flatnonzero(hits) + 1
        aps.append(np.mean(np.arange(1, len(positions) + 1) / positions))
        inps.append(len(positions) / positions[-1])
    return np.mean(cmcs, axis=0), float(np.mean(aps)), float(np.mean(inps))


def relpath(path):
    return os.path.normpath(path)
