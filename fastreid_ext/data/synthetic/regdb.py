"""Synthetic RegDB in the exact real layout.

Visible/<id>/<gender>_<view>_v_<id:05d>_<k>.bmp and Thermal/<id>/..._t_....bmp (images taken in
pairs, so visible k and thermal k share the pose), idx/{train,test}_{visible,thermal}_{t}.txt for
t = 1..10 (a random half/half split of the ids per trial; lines '<relpath> <label>', labels
0..n-1 in sorted id order within each split), and attributes.csv (pid = identity folder number,
the 8 PAENet attributes, ~5 % of cells -1 = unknown).
"""
from __future__ import annotations

import os

import numpy as np
from tqdm import tqdm

from ..attributes.names import SYSU_ATTRIBUTE_NAMES
from .cameras import camera_style
from .identity import sample_identity
from .images import write_image
from .presets import REGDB_PRESETS, resolve_options
from .render import sample_pose
from .registry import register_generator

__all__ = ["generate_regdb", "REGDB_DEFAULTS"]

REGDB_DEFAULTS = {"num_ids": 40, "images_per_id": 6, "height": 112, "width": 48, "num_trials": 10}


@register_generator("RegDB", images_key="images_per_id", short_name="regdb", presets=REGDB_PRESETS)
def generate_regdb(root: str, seed: int = 0, num_ids: int | None = None, images_per_id: int | None = None,
                   height: int | None = None, width: int | None = None, num_trials: int | None = None,
                   progress: bool = True, preset: str | None = None) -> str:
    """Write the dataset under ``root`` (the RegDB folder); same seed → identical bytes.

    Sizes come from REGDB_DEFAULTS, overridden by ``preset`` (see presets.py), overridden by the
    keywords given.
    """
    o = resolve_options("generate_regdb", REGDB_PRESETS, REGDB_DEFAULTS, preset, {
        "num_ids": num_ids, "images_per_id": images_per_id, "height": height, "width": width,
        "num_trials": num_trials})
    num_ids, images_per_id, height, width, num_trials = (
        o["num_ids"], o["images_per_id"], o["height"], o["width"], o["num_trials"])
    if num_ids < 2:
        raise ValueError(f"generate_regdb: num_ids={num_ids}, expected at least 2 (train and test ids).")
    vis_style = camera_style(1, "visible", False, seed)
    ir_style = camera_style(2, "infrared", True, seed)
    pids = list(range(1, num_ids + 1))
    traits = {p: sample_identity(np.random.default_rng([seed, 104729, p])) for p in pids}
    files = {}
    bar = tqdm(total=2 * num_ids * images_per_id, desc="synthetic RegDB", unit="img", disable=not progress)
    for pid in pids:
        t = traits[pid]
        view = "back" if np.random.default_rng([seed, 3, pid]).random() < 0.5 else "front"
        gender = "female" if t.attributes[0] else "male"
        names = []
        for k in range(1, images_per_id + 1):
            pose = sample_pose(np.random.default_rng([seed, pid, 0, k]))
            pose["view"] = view
            name = f"{gender}_{view}_{{m}}_{pid:05d}_{k}.bmp"
            for sub, m, style, cam in (("Visible", "v", vis_style, 1), ("Thermal", "t", ir_style, 2)):
                folder = os.path.join(root, sub, str(pid))
                os.makedirs(folder, exist_ok=True)
                r = np.random.default_rng([seed, pid, cam, k])
                write_image(os.path.join(folder, name.format(m=m)), t, style, r, height, width, pose, spread=0.05)
                bar.update(1)
            names.append(name)
        files[pid] = names
    bar.close()
    os.makedirs(os.path.join(root, "idx"), exist_ok=True)
    for trial in range(1, num_trials + 1):
        perm = np.random.default_rng([seed, 31, trial]).permutation(pids)
        half = num_ids // 2
        for split, ids in (("train", sorted(perm[:half])), ("test", sorted(perm[half:]))):
            for sub, m, mod in (("Visible", "v", "visible"), ("Thermal", "t", "thermal")):
                with open(os.path.join(root, "idx", f"{split}_{mod}_{trial}.txt"), "w", encoding="utf-8") as f:
                    for label, pid in enumerate(ids):
                        for name in files[int(pid)]:
                            f.write(f"{sub}/{pid}/{name.format(m=m)} {label}\n")
    rng = np.random.default_rng([seed, 4])
    with open(os.path.join(root, "attributes.csv"), "w", encoding="utf-8") as f:
        f.write(",".join(["pid"] + list(SYSU_ATTRIBUTE_NAMES)) + "\n")
        for pid in pids:
            vals = [(-1 if rng.random() < 0.05 else v) for v in traits[pid].attributes]
            f.write(",".join(str(v) for v in [pid] + vals) + "\n")
    return root
