"""Time of the SYSU-MM01 protocol runner alone (all/indoor x single/multi, 10 trials, 2048-d features of
SYSU-MM01's size; the data of ``eval_speed.py``), without the community loop: a quick before/after
check of the protocol path, run in two checkouts and paired, e.g.::

    PYTHONPATH=OLD python bench/protocol_speed.py --threads 1      # one side
    PYTHONPATH=NEW python bench/protocol_speed.py --threads 1      # the other, interleaved with it

Prints the seconds of one whole-protocol call (median of ``--repeats``) and a checksum of the numbers,
so the two sides can be seen to compute the same thing.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from eval_speed import sysu_feature_sets

from fastreid_ext.evaluation.protocols import run_sysu
from fastreid_ext.evaluation.types import RankingOptions


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--dim", type=int, default=2048)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    query, gallery = sysu_feature_sets(args.dim)
    times, runs = [], None
    for _ in range(args.repeats):
        t = time.perf_counter()
        runs = run_sysu(query, gallery, ["f"], ["all", "indoor"], ["single", "multi"], 10, 10, RankingOptions(backend="torch"))
        times.append(time.perf_counter() - t)
    checksum = sum(v for r in runs for trial in r.trials for v in trial.values())
    print(f"protocol {statistics.median(times):.3f} s (median of {args.repeats}, {args.threads} thread(s)); "
          f"checksum {checksum:.10f}")


if __name__ == "__main__":
    main()
