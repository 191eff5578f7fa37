"""Time the first-trial analysis adds to the SYSU-MM01 protocol: TPR@FPR (``TEST.ROC.ENABLED``) and the
camera-pair and attribute breakdowns (``TEST.CAMERA_BREAKDOWN.ENABLED``; 8 random binary attributes per
query, as SYSU's annotations), on the SYSU-MM01 protocol (all/indoor x
single/multi, 10 trials, 2048-d random features of SYSU-MM01's size, the data of ``eval_speed.py``)::

    PYTHONPATH=. python bench/roc_overhead.py --threads 1 --repeats 3

Runs the protocol plain, with ROC, and with ROC + breakdown, interleaved; prints the medians of the
process CPU time (one thread: robust to other processes sharing the machine) and their ratios.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from eval_speed import sysu_feature_sets

from fastreid_ext.evaluation.protocols import run_tasks, sysu_tasks
from fastreid_ext.evaluation.types import RankingOptions


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--dim", type=int, default=2048)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    query, gallery = sysu_feature_sets(args.dim, num_attributes=8)  # 8 binary attributes per query, all known
    names = [f"a{j}" for j in range(query.attributes.shape[1])]
    tasks = sysu_tasks(query, gallery, ["all", "indoor"], ["single", "multi"], 10, 10)
    variants = {"plain": (False, False), "roc": (True, False), "roc+breakdowns": (True, True)}
    times = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, (roc, breakdown) in variants.items():
            t = time.process_time()
            run_tasks(tasks, ["f"], RankingOptions(backend="torch"), roc=roc, breakdown=breakdown, attribute_names=names)
            times[name].append(time.process_time() - t)
    med = {name: statistics.median(v) for name, v in times.items()}
    print(f"{len(query)} queries, {len(gallery)} gallery images, {args.threads} thread(s), CPU s, median of {args.repeats}: "
          + ", ".join(f"{name} {t:.3f} s (x{t / med['plain']:.3f})" for name, t in med.items()))


if __name__ == "__main__":
    main()
