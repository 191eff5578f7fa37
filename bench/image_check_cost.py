"""Cost of the start-of-run image check (``fastreid_ext.data.image_check``) on the ``benchmark`` synthetic
SYSU-MM01 (~12k images), extrapolated to SYSU-MM01's size (its training set: 22,258 visible + 11,909
infrared = 34,167 images).

    python bench/image_check_cost.py [--root DATASETS_ROOT] [--workers 1 4 16] [--repeat 3] [--sysu-images 34167]

Without --root the benchmark preset is generated into a temporary folder first (about a minute).
Each setting times ``find_unreadable`` over every image of the dataset folder (--repeat times, best and
median reported), and the full decode (``read_image``) of a sample for comparison. The first pass may
read from disk, later ones from the page cache; both are printed. Numbers depend on the machine and its
load; they are never asserted in tests.
"""
from __future__ import annotations

import argparse
import glob
import os
import statistics
import tempfile
import time

from tabulate import tabulate

from fastreid_ext.data.common import read_image
from fastreid_ext.data.image_check import find_unreadable
from fastreid_ext.data.synthetic import generate_sysu


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default="", help="DATASETS.ROOT holding SYSU-MM01 (default: generate the benchmark preset)")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 4, 16])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--decode-sample", type=int, default=1000, help="images fully decoded for comparison")
    p.add_argument("--sysu-images", type=int, default=34167,
                   help="SYSU-MM01 training images, for the extrapolation")
    a = p.parse_args(argv)
    tmp = None
    root = a.root
    if not root:
        tmp = tempfile.TemporaryDirectory()
        root = tmp.name
        t0 = time.perf_counter()
        generate_sysu(os.path.join(root, "SYSU-MM01"), seed=0, preset="benchmark", progress=False)
        print(f"generated the benchmark preset in {time.perf_counter() - t0:.1f} s")
    paths = sorted(glob.glob(os.path.join(root, "SYSU-MM01", "cam*", "*", "*")))
    print(f"{len(paths)} images under {root}/SYSU-MM01; os.cpu_count() = {os.cpu_count()}; "
          f"load average {os.getloadavg()[0]:.1f}")
    rows = []
    for workers in a.workers:
        times = []
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            bad = find_unreadable(paths, workers=workers)
            times.append(time.perf_counter() - t0)
        assert not bad, bad[:3]
        best, med = min(times), statistics.median(times)
        rows.append([f"header check, {workers} threads", f"{times[0]:.2f}", f"{best:.2f}", f"{med:.2f}",
                     f"{len(paths) / best:.0f}", f"{a.sysu_images / len(paths) * med:.2f}"])
    sample = paths[:: max(1, len(paths) // a.decode_sample)][: a.decode_sample]
    t0 = time.perf_counter()
    for path in sample:
        read_image(path)
    per = (time.perf_counter() - t0) / len(sample)
    rows.append([f"full decode (1 thread, {len(sample)} sampled)", "", f"{per * len(paths):.2f}", "",
                 f"{1 / per:.0f}", f"{per * a.sysu_images:.2f}"])
    print(tabulate(rows, headers=["check", "first pass s", "best s", "median s", "images/s",
                                  f"SYSU-MM01 ({a.sysu_images} images) s"]))
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
