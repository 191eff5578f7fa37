"""The SYSU-MM01 and RegDB search protocols over extracted feature sets (docs/protocols.md,
"SYSU-MM01 protocol" and "RegDB protocol").

Each run yields one :class:`~.types.ProtocolRun` per (task, feature): the per-trial metrics (percent)
and the trials' seeds. SYSU trial galleries are drawn from the gallery set, whose features are
extracted once; the draw reproduces the AGW / MMD-ReID ``process_gallery_sysu`` exactly: trial t uses
its own ``random.Random(t)`` (the stream of ``random.seed(t)``) and loops over the test ids in
ascending order, then over the gallery cameras in the order [1, 2, 4, 5] (all-search) or [1, 2]
(indoor-search); for each (id, camera) with images it draws from the file list sorted by path.
Missing (id, camera) folders consume no draw.

* single-shot: ``rng.choice(files)``, one image (the community draw);
* multi-shot: ``rng.sample(files, min(num_shots, len(files)))``, up to ``num_shots`` images without
  replacement, seeded the same way (the reference multi-shot code path is broken; docs/protocols.md).
"""
from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import replace

import numpy as np

from .distance_sources import distance_sources
from .distances import prepare_features
from .metrics import SYSU_REMOVAL, compute_metrics
from .ranking import resolve_backend
from .types import FeatureSet, ProtocolRun, RankingOptions, Workspace

__all__ = [
    "SYSU_GALLERY_CAMS", "SYSU_SHOTS", "REGDB_DIRECTIONS", "group_gallery_images", "draw_sysu_gallery", "run_sysu",
    "run_regdb",
]

SYSU_GALLERY_CAMS = {"all": (1, 2, 4, 5), "indoor": (1, 2)}
SYSU_SHOTS = ("single", "multi")
REGDB_DIRECTIONS = ("visible2infrared", "infrared2visible")


def group_gallery_images(pids, camids, paths) -> dict[tuple[int, int], list[int]]:
    """(pid, camid) → gallery-set indices of its images, ordered by image path (the sorted file list)."""
    if not (len(pids) == len(camids) == len(paths)):
        raise ValueError(f"pids/camids/paths lengths differ: {len(pids)}, {len(camids)}, {len(paths)}.")
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, (pid, cam) in enumerate(zip(pids, camids)):
        groups[(int(pid), int(cam))].append(i)
    return {key: sorted(idx, key=lambda i: paths[i]) for key, idx in groups.items()}


def draw_sysu_gallery(groups: dict, mode: str, shot: str, trial: int, num_shots: int = 10) -> np.ndarray:
    """Gallery-set indices of the gallery of one trial (in draw order)."""
    if mode not in SYSU_GALLERY_CAMS:
        raise ValueError(f"Unknown SYSU mode '{mode}'; expected one of {sorted(SYSU_GALLERY_CAMS)} (TEST.SYSU.MODES).")
    if shot not in SYSU_SHOTS:
        raise ValueError(f"Unknown SYSU shot '{shot}'; expected one of {SYSU_SHOTS} (TEST.SYSU.SHOTS).")
    if shot == "multi" and num_shots < 1:
        raise ValueError(f"TEST.SYSU.MULTI_SHOT_IMAGES must be >= 1, got {num_shots}.")
    rng = random.Random(trial)
    cams = SYSU_GALLERY_CAMS[mode]
    picked: list[int] = []
    for pid in sorted({pid for pid, _ in groups}):
        for cam in cams:
            files = groups.get((pid, cam))
            if not files:
                continue
            if shot == "single":
                picked.append(rng.choice(files))
            else:
                picked.extend(rng.sample(files, min(num_shots, len(files))))
    if not picked:
        raise ValueError(f"The SYSU gallery set has no image of cameras {cams} ({mode}-search).")
    return np.asarray(picked, dtype=np.int64)


def run_sysu(query: FeatureSet, gallery: FeatureSet, feature_names, modes, shots, num_trials: int, num_shots: int,
             opts: RankingOptions, prefix: str = "") -> list[ProtocolRun]:
    """All (mode, shot) protocols, ``num_trials`` trials each; the trial galleries are drawn from ``gallery``."""
    if opts.sysu_cmc not in ("identity", "image"):
        raise ValueError(f"TEST.SYSU.CMC must be 'identity' or 'image', got '{opts.sysu_cmc}'.")
    if num_trials < 1:
        raise ValueError(f"SYSU needs at least one trial, got {num_trials}.")
    opts = replace(opts, backend=resolve_backend(opts.backend))
    groups = group_gallery_images(gallery.pids, gallery.camids, gallery.paths)
    identity = opts.sysu_cmc == "identity"
    protocols = [(mode, shot, [(t, draw_sysu_gallery(groups, mode, shot, t, num_shots)) for t in range(num_trials)])
                 for mode in modes for shot in shots]
    galleries = [idx for _, _, draws in protocols for _, idx in draws]
    runs = {}
    for name in feature_names:
        q, g = prepare_features(query.features[name], gallery.features[name], opts)
        sources, workspace = distance_sources(q, g, galleries, opts), Workspace()
        for mode, shot, draws in protocols:
            run = ProtocolRun(f"{mode}-{shot}", f"{prefix}{name}", _sysu_info(mode, shot, draws, len(query), opts, num_shots))
            for _, idx in draws:
                m = compute_metrics(next(sources), query.pids, gallery.pids[idx], query.camids, gallery.camids[idx],
                                    SYSU_REMOVAL, opts.max_rank, identity, opts.max_rows, workspace)
                run.trials.append(m.percent(m.cmc))
            runs[(mode, shot, name)] = run
    return [runs[(mode, shot, name)] for mode, shot, _ in protocols for name in feature_names]


def _sysu_info(mode, shot, draws, num_query, opts, num_shots) -> dict:
    return {
        "protocol": "sysu", "mode": mode, "shot": shot, "num_trials": len(draws), "seeds": [t for t, _ in draws],
        "gallery_sizes": [int(len(idx)) for _, idx in draws], "num_query": num_query, "cmc": opts.sysu_cmc,
        "multi_shot_images": num_shots if shot == "multi" else 1,
    }


def run_regdb(visible: FeatureSet, infrared: FeatureSet, feature_names, directions, trial: int, opts: RankingOptions,
              prefix: str = "") -> list[ProtocolRun]:
    """Visible→infrared (visible queries, thermal gallery) and/or the reverse, standard CMC."""
    for direction in directions:
        if direction not in REGDB_DIRECTIONS:
            raise ValueError(f"Unknown RegDB direction '{direction}'; expected one of {REGDB_DIRECTIONS} (TEST.REGDB.DIRECTIONS).")
    opts = replace(opts, backend=resolve_backend(opts.backend))
    runs = []
    for direction in directions:
        q, g = (visible, infrared) if direction == "visible2infrared" else (infrared, visible)
        info = {"protocol": "regdb", "direction": direction, "split_trial": trial, "num_trials": 1, "seeds": [],
                "num_query": len(q), "gallery_sizes": [len(g)], "cmc": "image"}
        for name in feature_names:
            qf, gf = prepare_features(q.features[name], g.features[name], opts)
            (source,) = distance_sources(qf, gf, None, opts)
            m = compute_metrics(source, q.pids, g.pids, None, None, None, opts.max_rank, False, opts.max_rows)
            runs.append(ProtocolRun(direction, f"{prefix}{name}", info, [m.percent(m.cmc_standard)]))
    return runs
