"""The SYSU-MM01 and RegDB search protocols over extracted feature sets (docs/protocols.md,
"SYSU-MM01 protocol" and "RegDB protocol").

A protocol is a list of :class:`Task` (SYSU: one per mode × shot, with its trial galleries; RegDB:
one per direction) run by one loop, :func:`run_tasks`, which yields one :class:`~.types.ProtocolRun`
per (task, feature): the per-trial metrics (percent) and the trials' seeds. SYSU trial galleries are drawn from the gallery set, whose features are
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
from dataclasses import dataclass, replace

import numpy as np

from .distances import distance_sources, prepare_features
from .faiss_search import resolve_backend
from .match_positions import Workspace
from .metrics import SYSU_REMOVAL, chance_rank1, compute_metrics
from .types import CHANCE_KEY, REPORTED_RANKS, FeatureSet, ProtocolRun, RankingOptions

__all__ = [
    "SYSU_GALLERY_CAMS", "SYSU_SHOTS", "REGDB_DIRECTIONS", "Task", "group_gallery_images", "draw_sysu_gallery",
    "sysu_tasks", "regdb_tasks", "protocol_tasks", "run_tasks", "run_sysu", "run_regdb",
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


@dataclass
class Task:
    """One search task of a protocol: a query set against one or more galleries drawn from a gallery
    set (``galleries``: index arrays, one per trial; ``None``: the whole gallery set, one trial)."""

    name: str
    query: FeatureSet
    gallery: FeatureSet
    galleries: list | None
    removal: tuple | None
    identity_cmc: bool
    info: dict


def sysu_tasks(query: FeatureSet, gallery: FeatureSet, modes, shots, num_trials: int, num_shots: int,
               cmc: str = "identity") -> list[Task]:
    """The (mode, shot) tasks of SYSU-MM01, ``num_trials`` trial galleries each, drawn from ``gallery``."""
    if cmc not in ("identity", "image"):
        raise ValueError(f"TEST.SYSU.CMC must be 'identity' or 'image', got '{cmc}'.")
    if num_trials < 1:
        raise ValueError(f"SYSU needs at least one trial, got {num_trials}.")
    groups = group_gallery_images(gallery.pids, gallery.camids, gallery.paths)
    tasks = []
    for mode in modes:
        for shot in shots:
            galleries = [draw_sysu_gallery(groups, mode, shot, t, num_shots) for t in range(num_trials)]
            info = {"protocol": "sysu", "mode": mode, "shot": shot, "num_trials": num_trials, "seeds": list(range(num_trials)),
                    "gallery_sizes": [int(len(idx)) for idx in galleries], "num_query": len(query), "cmc": cmc,
                    "multi_shot_images": num_shots if shot == "multi" else 1,
                    "gallery_ids": [int(len(np.unique(gallery.pids[idx]))) for idx in galleries]}  # chance Rank-1
            tasks.append(Task(f"{mode}-{shot}", query, gallery, galleries, SYSU_REMOVAL, cmc == "identity", info))
    return tasks


def regdb_tasks(visible: FeatureSet, infrared: FeatureSet, directions, trial: int) -> list[Task]:
    """Visible→infrared (visible queries, thermal gallery) and/or the reverse, standard CMC."""
    tasks = []
    for direction in directions:
        if direction not in REGDB_DIRECTIONS:
            raise ValueError(f"Unknown RegDB direction '{direction}'; expected one of {REGDB_DIRECTIONS} (TEST.REGDB.DIRECTIONS).")
        q, g = (visible, infrared) if direction == "visible2infrared" else (infrared, visible)
        info = {"protocol": "regdb", "direction": direction, "split_trial": trial, "num_trials": 1, "seeds": [],
                "num_query": len(q), "gallery_sizes": [len(g)], "cmc": "image", "gallery_ids": [int(len(np.unique(g.pids)))]}
        tasks.append(Task(direction, q, g, None, None, False, info))
    return tasks


def protocol_tasks(protocol: str, query: FeatureSet, gallery: FeatureSet, settings: dict) -> list[Task]:
    """The tasks of a dataset's ``protocol`` ("sysu": :func:`sysu_tasks`, "regdb": :func:`regdb_tasks`,
    with the dataset's query and gallery sets as visible and infrared sets)."""
    if protocol == "sysu":
        return sysu_tasks(query, gallery, **settings)
    if protocol == "regdb":
        return regdb_tasks(query, gallery, **settings)
    raise ValueError(f"Unknown evaluation protocol '{protocol}'; expected 'sysu' or 'regdb'.")


def run_tasks(tasks: list[Task], feature_names, opts: RankingOptions, prefix: str = "") -> list[ProtocolRun]:
    """Every task × feature: per feature and query set the features are prepared once and the
    distance source of each trial gallery is chosen in one place (:func:`.distances.distance_sources`)."""
    opts = replace(opts, backend=resolve_backend(opts.backend))
    runs = {}
    for name in feature_names:
        groups: dict = {}  # tasks on one (query set, gallery set) share their distances (SYSU: one matrix)
        for task in tasks:
            groups.setdefault((id(task.query), id(task.gallery), task.galleries is None), []).append(task)
        for group in groups.values():
            query, gallery = group[0].query, group[0].gallery
            q, g = prepare_features(query.features[name], gallery.features[name], opts)
            galleries = None if group[0].galleries is None else [idx for t in group for idx in t.galleries]
            sources, workspace = distance_sources(q, g, galleries, opts), Workspace()
            for task in group:
                run = ProtocolRun(task.name, f"{prefix}{name}", task.info)
                for idx in task.galleries if task.galleries is not None else [slice(None)]:
                    m = compute_metrics(next(sources), query.pids, gallery.pids[idx],
                                        None if task.removal is None else query.camids,
                                        None if task.removal is None else gallery.camids[idx], task.removal,
                                        opts.max_rank, task.identity_cmc, opts.max_rows, workspace)
                    trial = {f"Rank-{r}": 100.0 * float(m.cmc[r - 1]) for r in REPORTED_RANKS if r <= len(m.cmc)}
                    chance = 100.0 * chance_rank1(query.pids, gallery.pids[idx],
                                                  None if task.removal is None else query.camids,
                                                  None if task.removal is None else gallery.camids[idx], task.removal)
                    run.trials.append({**trial, "mAP": 100.0 * m.mAP, "mINP": 100.0 * m.mINP, CHANCE_KEY: chance})
                runs[(id(task), name)] = run
    return [runs[(id(task), name)] for task in tasks for name in feature_names]


def run_sysu(query: FeatureSet, gallery: FeatureSet, feature_names, modes, shots, num_trials: int, num_shots: int,
             opts: RankingOptions, prefix: str = "") -> list[ProtocolRun]:
    """All (mode, shot) protocols of SYSU-MM01, ``num_trials`` trials each."""
    return run_tasks(sysu_tasks(query, gallery, modes, shots, num_trials, num_shots, opts.sysu_cmc), feature_names, opts, prefix)


def run_regdb(visible: FeatureSet, infrared: FeatureSet, feature_names, directions, trial: int, opts: RankingOptions,
              prefix: str = "") -> list[ProtocolRun]:
    """The RegDB directions of one split trial."""
    return run_tasks(regdb_tasks(visible, infrared, directions, trial), feature_names, opts, prefix)
