"""Generate a synthetic dataset (SYSU-MM01, RegDB, or any registered generator's) in its real on-disk layout.

    python tools/make_synthetic.py sysu  --preset demo --root datasets/demo --seed 0
    python tools/make_synthetic.py sysu  --preset benchmark --root datasets/benchmark --seed 0
    python tools/make_synthetic.py regdb --root datasets --seed 0 [--num-ids 40 --images-per-id 6 ...]

A preset (demo | benchmark, see fastreid_ext/data/synthetic/presets.py) sets the sizes; the other
options override it.
``--root`` is the DATASETS.ROOT folder: the data lands in ROOT/<the dataset's folder> (SYSU-MM01, RegDB),
written under a lock into ROOT/<name>.generating and renamed into place with SYNTHETIC.json once complete
(as DATASETS.SYNTHETIC does), so a killed run leaves no partial dataset. The dataset is a generator's
short name (sysu, regdb) or dataset name; --imports loads plugins (their generators) first.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from fastreid_ext.data.generation import install_generated
from fastreid_ext.data.synthetic import SYSU_PRESETS, find_generator


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", help="generator: sysu | regdb | a registered dataset name (see --imports)")
    p.add_argument("--imports", nargs="*", default=[], help="plugin modules or paths that register generators")
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
    from fastreid_ext.data.datasets import DATASET_REGISTRY
    from fastreid_ext.utils.plugins import import_plugins

    import_plugins(a.imports)
    gen = find_generator(a.dataset)
    folder = os.path.join(a.root, DATASET_REGISTRY.get(gen.dataset).dataset_dir)
    if os.path.exists(folder) and not a.force:
        print(f"{folder} exists; use --force to write into it.", file=sys.stderr)
        return 1
    opts = {k: v for k, v in {"num_ids": a.num_ids, "height": a.height, "width": a.width}.items() if v is not None}
    count = a.images_per_camera if a.images_per_camera is not None else a.images_per_id
    if count is not None:
        opts[gen.images_key] = count
    options = {"seed": a.seed, **({"preset": a.preset} if a.preset else {}), **opts}
    # the same locked, atomic path as DATASETS.SYNTHETIC: a killed run leaves no folder a reader takes for data
    install_generated(folder, {"generator": gen.name, "options": options}, gen.generate, replace=a.force)
    print(f"Wrote {folder}")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the lock's "waiting for ..." line
    sys.exit(main())
