"""A synthetic LLCM in the released layout (``tools/make_synthetic.py llcm --imports llcm``, or
``DATASETS.SYNTHETIC.PRESET`` with ``IMPORTS: [llcm]``), built from the core's person renderer.

Cameras 1-9 each record both modalities (LLCM's NIR test set has no camera 3, as released); a
fraction of the identities are test identities (``idx/test_id.txt``), the others are listed in
``idx/train_{vis,nir}.txt`` with contiguous labels. Same seed → identical bytes.
"""
from __future__ import annotations

import os

import numpy as np
from tqdm import tqdm

from fastreid_ext.data.attributes.names import SYSU_ATTRIBUTE_NAMES
from fastreid_ext.data.synthetic import register_generator
from fastreid_ext.data.synthetic.cameras import camera_style
from fastreid_ext.data.synthetic.identity import sample_identity
from fastreid_ext.data.synthetic.images import write_image
from fastreid_ext.data.synthetic.presets import resolve_options
from fastreid_ext.data.synthetic.render import sample_pose

__all__ = ["generate_llcm", "LLCM_DEFAULTS", "LLCM_PRESETS"]

# LLCM: 713 training and 351 test identities (1,064), 9 cameras.
LLCM_DEFAULTS = {"num_ids": 30, "images_per_camera": 2, "height": 96, "width": 40, "test_fraction": 351 / 1064,
                 "cameras_per_id": 4}
LLCM_PRESETS = {
    "demo": {"num_ids": 90, "images_per_camera": 2, "height": 72, "width": 32},
    "benchmark": {"num_ids": 400, "images_per_camera": 3, "height": 96, "width": 40},
}
CAMERAS = tuple(range(1, 10))
NIR_TEST_CAMERAS = (1, 2, 4, 5, 6, 7, 8, 9)


@register_generator("LLCM", images_key="images_per_camera", short_name="llcm", presets=LLCM_PRESETS)
def generate_llcm(root: str, seed: int = 0, num_ids: int | None = None, images_per_camera: int | None = None,
                  height: int | None = None, width: int | None = None, progress: bool = True,
                  preset: str | None = None, test_fraction: float | None = None,
                  cameras_per_id: int | None = None) -> str:
    """Write the dataset under ``root`` (the LLCM folder). Each identity appears in ``cameras_per_id``
    random cameras, in both modalities there (NIR test images never in camera 3)."""
    o = resolve_options("generate_llcm", LLCM_PRESETS, LLCM_DEFAULTS, preset, {
        "num_ids": num_ids, "images_per_camera": images_per_camera, "height": height, "width": width,
        "test_fraction": test_fraction, "cameras_per_id": cameras_per_id})
    n, per_cam, h, w = o["num_ids"], o["images_per_camera"], o["height"], o["width"]
    if n < 4:
        raise ValueError(f"generate_llcm: num_ids={n}, expected at least 4 (train and test ids).")
    pids = list(range(1, n + 1))
    order = np.random.default_rng([seed, 61]).permutation(pids)
    num_test = max(2, int(round(n * o["test_fraction"])))
    test_ids, train_ids = sorted(int(p) for p in order[:num_test]), sorted(int(p) for p in order[num_test:])
    styles = {(c, m): camera_style(c + (0 if m == "visible" else 20), m, c > 4, seed)
              for c in CAMERAS for m in ("visible", "infrared")}
    lines = {"train_vis": [], "train_nir": []}
    bar = tqdm(total=n * o["cameras_per_id"] * per_cam * 2, desc="synthetic LLCM", unit="img", disable=not progress)
    labels, test_set = {pid: i for i, pid in enumerate(train_ids)}, set(test_ids)
    for pid in pids:
        traits = sample_identity(np.random.default_rng([seed, 104729, pid]))
        rng = np.random.default_rng([seed, 17, pid])
        cams = sorted(int(c) for c in rng.choice(CAMERAS, size=min(o["cameras_per_id"], len(CAMERAS)), replace=False))
        test = pid in test_set
        for cam in cams:
            for modality, sub in (("visible", "vis"), ("infrared", "nir")):
                if test and modality == "infrared" and cam not in NIR_TEST_CAMERAS:
                    continue
                folder_rel = f"{'test_' if test else ''}{sub}/cam{cam}/{pid:04d}"
                os.makedirs(os.path.join(root, folder_rel), exist_ok=True)
                for k in range(1, per_cam + 1):
                    rel = f"{folder_rel}/{pid:04d}_c{cam:02d}_{sub}_{k:03d}.jpg"
                    r = np.random.default_rng([seed, pid, cam, k, 0 if modality == "visible" else 1])
                    write_image(os.path.join(root, rel), traits, styles[cam, modality], r, h, w, sample_pose(r))
                    if not test:
                        lines[f"train_{sub}"].append(f"{rel} {labels[pid]}")
                    bar.update(1)
    bar.close()
    os.makedirs(os.path.join(root, "idx"), exist_ok=True)
    for name, rows in lines.items():
        with open(os.path.join(root, "idx", f"{name}.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(rows) + "\n")
    with open(os.path.join(root, "idx", "test_id.txt"), "w", encoding="utf-8") as f:
        f.write(",".join(str(p) for p in test_ids) + "\n")
    arng = np.random.default_rng([seed, 4])
    with open(os.path.join(root, "attributes.csv"), "w", encoding="utf-8") as f:
        f.write(",".join(["pid", *SYSU_ATTRIBUTE_NAMES]) + "\n")
        for pid in pids:
            traits = sample_identity(np.random.default_rng([seed, 104729, pid]))
            vals = [(-1 if arng.random() < 0.05 else int(v)) for v in traits.attributes]
            f.write(",".join(str(v) for v in [pid, *vals]) + "\n")
    return root
