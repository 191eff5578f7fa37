"""Synthetic SYSU-MM01 in the exact real layout, including the attribute-file traps.

cam1..cam6/<pid:04d>/<nnnn>.jpg (cams 1, 2, 4, 5 visible, 3, 6 infrared; an id is missing from
some cameras), exp/{train,val,test}_id.txt (one comma-separated line) and
sysu_attribute/cam{k}_att.mat (uint8 (8, N_k), column pid-1). As in the release: cam1/cam2 have
one column fewer than the largest pid (a test id, like pid 333), ids absent from the dataset are
all-zero columns, the first test id is an all-ones placeholder in cam1/cam2, and ~3 % of the bits
disagree between cameras.
"""
from __future__ import annotations

import os

import numpy as np
from tqdm import tqdm

from .cameras import camera_style
from .identity import sample_identity
from .images import write_image
from .matfile import write_mat
from .presets import SYSU_PRESETS, resolve_options
from .render import sample_pose
from .registry import register_generator

__all__ = ["generate_sysu", "SYSU_DEFAULTS"]

VISIBLE, INFRARED = (1, 2, 4, 5), (3, 6)
OUTDOOR = {4, 5, 6}
SYSU_DEFAULTS = {"num_ids": 40, "images_per_camera": 4, "height": 112, "width": 48,
                 "test_fraction": 0.4, "val_fraction": 0.25}


def _split(pids, rng, test_fraction, val_fraction):
    n = len(pids)
    if n < 4:
        raise ValueError(f"generate_sysu: num_ids={n}, expected at least 4 (train, val and test ids).")
    for key, v in (("test_fraction", test_fraction), ("val_fraction", val_fraction)):
        if not 0 < v < 1:
            raise ValueError(f"generate_sysu: {key}={v}, expected a fraction strictly between 0 and 1.")
    n_test = min(n - 2, max(1, round(test_fraction * n)))
    n_val = min(n - n_test - 1, max(1, round(val_fraction * (n - n_test))))
    rest = list(rng.permutation(pids[:-1]))
    test = sorted([pids[-1]] + rest[: n_test - 1])  # the largest pid is a test id, like 333
    val = sorted(rest[n_test - 1 : n_test - 1 + n_val])
    train = sorted(rest[n_test - 1 + n_val :])
    return [int(p) for p in train], [int(p) for p in val], [int(p) for p in test]


def _cameras(rng, is_test):
    cams = [c for c in VISIBLE + INFRARED if rng.random() < 0.8]
    if is_test and 1 not in cams:
        cams.append(1)  # every query keeps a true match in indoor search
    if not any(c in VISIBLE for c in cams):
        cams.append(int(rng.choice(VISIBLE)))
    if not any(c in INFRARED for c in cams):
        cams.append(int(rng.choice(INFRARED)))
    return sorted(cams)


@register_generator("SYSU_MM01", images_key="images_per_camera", short_name="sysu", presets=SYSU_PRESETS)
def generate_sysu(root: str, seed: int = 0, num_ids: int | None = None, images_per_camera: int | None = None,
                  height: int | None = None, width: int | None = None, attributes: bool = True,
                  progress: bool = True, preset: str | None = None, test_fraction: float | None = None,
                  val_fraction: float | None = None) -> str:
    """Write the dataset under ``root`` (the SYSU-MM01 folder); same seed → identical bytes.

    Sizes come from SYSU_DEFAULTS, overridden by ``preset`` (see presets.py), overridden by the
    keywords given. ``test_fraction`` of the ids are test ids, ``val_fraction`` of the rest val ids.
    """
    o = resolve_options("generate_sysu", SYSU_PRESETS, SYSU_DEFAULTS, preset, {
        "num_ids": num_ids, "images_per_camera": images_per_camera, "height": height, "width": width,
        "test_fraction": test_fraction, "val_fraction": val_fraction})
    num_ids, images_per_camera, height, width = o["num_ids"], o["images_per_camera"], o["height"], o["width"]
    rng = np.random.default_rng([seed, 1])
    pids = sorted(int(p) for p in rng.choice(np.arange(1, int(num_ids * 1.25) + 2), num_ids, replace=False))
    train, val, test = _split(pids, rng, o["test_fraction"], o["val_fraction"])
    test_set = set(test)
    plan = []  # (pid, cam, n_images)
    for pid in pids:
        for cam in _cameras(rng, pid in test_set):
            spread = max(1, images_per_camera // 2)
            plan.append((pid, cam, max(1, images_per_camera + int(rng.integers(-spread, spread + 1)))))
    styles = {c: camera_style(c, "visible" if c in VISIBLE else "infrared", c in OUTDOOR, seed) for c in range(1, 7)}
    traits = {p: sample_identity(np.random.default_rng([seed, 104729, p])) for p in pids}
    os.makedirs(os.path.join(root, "exp"), exist_ok=True)
    for name, ids in (("train_id.txt", train), ("val_id.txt", val), ("test_id.txt", test)):
        with open(os.path.join(root, "exp", name), "w", encoding="utf-8") as f:
            f.write(",".join(str(p) for p in ids) + "\n")
    for c in range(1, 7):
        os.makedirs(os.path.join(root, f"cam{c}"), exist_ok=True)
    bar = tqdm(total=sum(n for _, _, n in plan), desc="synthetic SYSU-MM01", unit="img", disable=not progress)
    for pid, cam, n in plan:
        folder = os.path.join(root, f"cam{cam}", f"{pid:04d}")
        os.makedirs(folder, exist_ok=True)
        for j in range(1, n + 1):
            r = np.random.default_rng([seed, pid, cam, j])
            write_image(os.path.join(folder, f"{j:04d}.jpg"), traits[pid], styles[cam], r, height, width, sample_pose(r))
            bar.update(1)
    bar.close()
    if attributes:
        _write_attributes(root, pids, test, traits, seed)
    return root


def _write_attributes(root, pids, test, traits, seed):
    folder = os.path.join(root, "sysu_attribute")
    os.makedirs(folder, exist_ok=True)
    max_pid = max(pids)
    rng = np.random.default_rng([seed, 2])
    for cam in range(1, 7):
        n_cols = max_pid - 1 if cam in (1, 2) else max_pid
        att = np.zeros((8, n_cols), np.uint8)  # absent ids stay all-zero placeholders
        for pid in pids:
            if pid <= n_cols:
                col = np.array(traits[pid].attributes, np.uint8)
                flip = rng.random(8) < 0.03
                att[:, pid - 1] = np.where(flip, 1 - col, col)
        if cam in (1, 2):
            att[:, test[0] - 1] = 1  # all-ones placeholder on a test id, as in the release
        write_mat(os.path.join(folder, f"cam{cam}_att.mat"), {f"cam{cam}_att": att})
