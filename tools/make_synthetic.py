"""Generate a synthetic SYSU-MM01 or RegDB in the real on-disk layout.

    python tools/make_synthetic.py sysu  --preset demo --root datasets/demo --seed 0
    python tools/make_synthetic.py sysu  --preset benchmark --root datasets/benchmark --seed 0
    python tools/make_synthetic.py regdb --root datasets --seed 0 [--num-ids 40 --images-per-id 6 ...]

A preset (demo | benchmark, see fastreid_ext/data/synthetic/presets.py) sets the sizes; the other
options override it.
``--root`` is the DATASETS.ROOT folder: the data lands in ROOT/SYSU-MM01 or ROOT/RegDB, written under a
lock into ROOT/<name>.generating and renamed into place with SYNTHETIC.json once complete (as
DATASETS.SYNTHETIC does), so a killed run leaves no partial dataset.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from fastreid_ext.data.generation import install_generated
from fastreid_ext.data.synthetic import SYSU_PRESETS, generate_regdb, generate_sysu


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", choices=["sysu", "regdb"])
    p.add_argument("--root", default=os.environ.get("FASTREID_DATASETS", "datasets"), help="DATASETS.ROOT folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--preset", choices=sorted(SYSU_PRESETS), default=None, help="named sizes (default: the generator's)")
    p.add_argument("--num-ids", type=int, default=None)
    p.add_argument("--images-per-camera", type=int, default=None, help="sysu: mean images per (id, camera)")
    p.add_argument("--images-per-id", type=int, default=None, help="regdb: images per id and modality")
    p.add_argument("--height", type=int, default=None, help="base image height (sizes vary around it)")
    p.add_argument("--width", type=int, default=None)
    p.add_argument("--force", action="store_true", help="replace the dataset folder if it exists (once the new one is complete)")
    a = p.parse_args(argv)
    folder = os.path.join(a.root, "SYSU-MM01" if a.dataset == "sysu" else "RegDB")
    if os.path.exists(folder) and not a.force:
        print(f"{folder} exists; use --force to write into it.", file=sys.stderr)
        return 1
    opts = {k: v for k, v in {"num_ids": a.num_ids, "height": a.height, "width": a.width}.items() if v is not None}
    if a.dataset == "sysu" and a.images_per_camera is not None:
        opts["images_per_camera"] = a.images_per_camera
    if a.dataset == "regdb" and a.images_per_id is not None:
        opts["images_per_id"] = a.images_per_id
    func = "generate_sysu" if a.dataset == "sysu" else "generate_regdb"
    options = {"seed": a.seed, **({"preset": a.preset} if a.preset else {}), **opts}
    # the same locked, atomic path as DATASETS.SYNTHETIC: a killed run leaves no folder a reader takes for data
    install_generated(folder, {"generator": func, "options": options},
                      generate_sysu if a.dataset == "sysu" else generate_regdb, replace=a.force)
    print(f"Wrote {folder}")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the lock's "waiting for ..." line
    sys.exit(main())
