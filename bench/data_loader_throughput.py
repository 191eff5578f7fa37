"""Training-loader throughput (images/s) on generated SYSU-MM01 data.

    python bench/data_loader_throughput.py [--root DATASETS_ROOT] [--sizes 128x64 288x144] [--workers 0 2 4] [--iters 30]

Without --root the demo dataset (generator defaults) is written to a temporary folder first.
Each setting: build the loader, skip --warmup batches (worker start-up), time --iters batches of
2PK images. Numbers depend on the machine and its load; this is never asserted in tests.
With 0 workers the transforms run in the main process on torch's intra-op thread pool, which on a
small loaded machine is much slower than one thread (workers use one thread each); --threads N
calls torch.set_num_threads(N) first to show that effect.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import tempfile
import time

import torch
from tabulate import tabulate

from fastreid_ext.config import get_cfg
from fastreid_ext.data import build_train_loader
from fastreid_ext.data.synthetic import generate_sysu


def measure(root: str, size: tuple[int, int], workers: int, iters: int, warmup: int, p: int, k: int) -> float:
    cfg = get_cfg()
    cfg.DATASETS.ROOT = root
    cfg.MODEL.DEVICE = "cpu"
    cfg.INPUT.SIZE_TRAIN = list(size)
    cfg.DATALOADER.NUM_WORKERS = workers
    cfg.DATALOADER.IDS_PER_BATCH, cfg.DATALOADER.NUM_INSTANCES = p, k
    loader = build_train_loader(cfg)
    it = iter(loader)
    for _ in range(warmup):
        next(it)
    t0 = time.perf_counter()
    n = sum(len(b["img_paths"]) for b in itertools.islice(it, iters))
    rate = n / (time.perf_counter() - t0)
    del it, loader
    return rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default="", help="DATASETS.ROOT holding SYSU-MM01 (default: generate the demo data)")
    ap.add_argument("--sizes", nargs="+", default=["128x64", "288x144"], help="HxW of INPUT.SIZE_TRAIN")
    ap.add_argument("--workers", nargs="+", type=int, default=[0, 2, 4])
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--p", type=int, default=4)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--json", default="", help="also write the results here")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads in the main process (0: leave)")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    root = a.root
    if not root:
        root = tempfile.mkdtemp(prefix="bench_data_")
        generate_sysu(os.path.join(root, "SYSU-MM01"), seed=0)
    rows = []
    for size in a.sizes:
        h, w = (int(v) for v in size.lower().split("x"))
        for workers in a.workers:
            rows.append({"size": f"{h}x{w}", "workers": workers, "images/s": round(measure(root, (h, w), workers, a.iters, a.warmup, a.p, a.k), 1)})
    print(f"batch = 2PK = {2 * a.p * a.k}, {a.iters} batches per setting, {os.cpu_count()} CPUs visible, "
          f"{torch.get_num_threads()} torch threads in the main process")
    print(tabulate(rows, headers="keys", tablefmt="pipe"))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
