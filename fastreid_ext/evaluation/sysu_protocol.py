"""SYSU-MM01 trial galleries, drawn from a gallery pool whose features are extracted once.

The draw reproduces the AGW / MMD-ReID ``process_gallery_sysu`` (spec §2.1-2.2) exactly: trial t
uses its own ``random.Random(t)`` (the stream of ``random.seed(t)``), and loops over the test ids in
ascending order, then over the gallery cameras in the order [1, 2, 4, 5] (all-search) or [1, 2]
(indoor-search); for each (id, camera) with images it draws from the file list sorted by path.
Missing (id, camera) folders consume no draw.

* single-shot: ``rng.choice(files)``, one image (the community draw);
* multi-shot: ``rng.sample(files, min(num_shots, len(files)))``, i.e. up to ``num_shots`` images without
  replacement, seeded the same way (the reference multi-shot path is broken, trap T5).
"""
from __future__ import annotations

import random
from collections import defaultdict

import numpy as np

__all__ = ["SYSU_GALLERY_CAMS", "SYSU_SHOTS", "group_gallery_pool", "draw_sysu_gallery", "sysu_trial_galleries"]

SYSU_GALLERY_CAMS = {"all": (1, 2, 4, 5), "indoor": (1, 2)}
SYSU_SHOTS = ("single", "multi")


def group_gallery_pool(pids, camids, paths) -> dict[tuple[int, int], list[int]]:
    """(pid, camid) → pool indices of its images, ordered by image path (the sorted file list)."""
    if not (len(pids) == len(camids) == len(paths)):
        raise ValueError(f"pids/camids/paths lengths differ: {len(pids)}, {len(camids)}, {len(paths)}.")
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, (pid, cam) in enumerate(zip(pids, camids)):
        groups[(int(pid), int(cam))].append(i)
    return {key: sorted(idx, key=lambda i: paths[i]) for key, idx in groups.items()}


def draw_sysu_gallery(groups: dict, mode: str, shot: str, trial: int, num_shots: int = 10) -> np.ndarray:
    """Pool indices of the gallery of one trial (in draw order)."""
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
        raise ValueError(f"The SYSU gallery pool has no image of cameras {cams} ({mode}-search).")
    return np.asarray(picked, dtype=np.int64)


def sysu_trial_galleries(groups: dict, mode: str, shot: str, num_trials: int, num_shots: int = 10):
    """[(seed, pool indices)] for trials 0..num_trials-1 (the seed of trial t is t)."""
    return [(t, draw_sysu_gallery(groups, mode, shot, t, num_shots)) for t in range(num_trials)]
