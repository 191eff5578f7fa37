#!/usr/bin/env python
"""Evaluation kernels solo and beside a CPU-bound process, at 1 thread, 2 threads and the automatic choice.

    python bench/thread_load.py                    # SYSU single-shot metrics (3803 x 301) + re-ranking 800 x 800
    python bench/thread_load.py --repeats 3 --rerank-query 400 --rerank-gallery 400   # quicker
    python bench/thread_load.py --protocol --trial-workers 1   # + a SYSU multi-shot protocol, trials one by one

For every thread count: each kernel is timed solo (median of --repeats), then again while one
subprocess spins on one core (``while True: pass``), interleaved kernel by kernel. The ratios printed:
``busy/solo`` (what the neighbour costs at that thread count; fair sharing of one core would cost
about 2x at most) and ``busy/1-thread solo`` (issue 25, item 1: at most 2.5x). "auto" is
``fastreid_ext.utils.threads.choose_threads()`` (affinity and cgroup quota, as NUM_THREADS 0 does
at run setup). ``--kernel-threads`` is TEST.RANKING.KERNEL_THREADS: the intra-op threads the metric
kernel and re-ranking run on inside a run with those threads (0, the default: auto, one probe per
timed kernel call so every repeat probes again; n: n threads; the run's count: the behaviour before
the key). ``--protocol`` adds the whole SYSU all-search multi-shot protocol (10 trials from features:
the shared distance matrix, then every trial's metrics) on ranking-hard features; ``--trial-workers``
is TEST.RANKING.TRIAL_WORKERS for it (0: the run's threads, the default; 1: one trial after another).
Numbers depend on everything else the machine runs: report its load with them.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
from tabulate import tabulate

from fastreid_ext.evaluation.distances import MatrixSource
from fastreid_ext.evaluation.metrics import SYSU_REMOVAL, compute_metrics
from fastreid_ext.evaluation.reranking import k_reciprocal_distance
from fastreid_ext.utils.threads import choose_threads, intra_op_threads

SYSU_QUERY, SYSU_SINGLE_GALLERY, SYSU_TEST_IDS = 3803, 301, 96  # all-search queries, single-shot gallery (one trial)


def sysu_metric_inputs(seed: int = 0) -> tuple:
    """A SYSU-sized single-shot trial: random distances, 96 ids, SYSU camera ids (3/6 query, 1/2/4/5 gallery)."""
    g = np.random.default_rng(seed)
    q_pids = g.integers(0, SYSU_TEST_IDS, SYSU_QUERY)
    g_pids = np.concatenate([np.arange(SYSU_TEST_IDS), g.integers(0, SYSU_TEST_IDS, SYSU_SINGLE_GALLERY - SYSU_TEST_IDS)])
    q_cams = g.choice([3, 6], SYSU_QUERY)
    g_cams = g.choice([1, 2, 4, 5], SYSU_SINGLE_GALLERY)
    dist = torch.from_numpy(g.random((SYSU_QUERY, SYSU_SINGLE_GALLERY), dtype=np.float32))
    return dist, q_pids, g_pids, q_cams, g_cams


def kernels(args) -> dict:
    dist, q_pids, g_pids, q_cams, g_cams = sysu_metric_inputs()
    g = torch.Generator().manual_seed(0)
    qf = torch.randn(args.rerank_query, args.rerank_dim, generator=g)
    gf = torch.randn(args.rerank_gallery, args.rerank_dim, generator=g)
    kt = args.kernel_threads

    def rerank():
        with intra_op_threads(kt):  # as evaluation.postprocess runs it
            return k_reciprocal_distance(qf, gf, backend="torch")

    return {
        f"SYSU metrics {SYSU_QUERY}x{SYSU_SINGLE_GALLERY}":
            lambda: compute_metrics(MatrixSource(dist), q_pids, g_pids, q_cams, g_cams, SYSU_REMOVAL, 20, True,
                                    kernel_threads=kt),
        f"re-ranking {args.rerank_query}x{args.rerank_gallery}x{args.rerank_dim}": rerank,
        **(protocol(args) if args.protocol else {}),
    }


def protocol(args) -> dict:
    """The SYSU multi-shot protocol of ``eval_floor.py`` (noise 4: Rank-1 94, mAP 55), whole."""
    from eval_speed import sysu_feature_sets, torch_ranking_options

    from fastreid_ext.evaluation.protocols import run_sysu

    query, gallery = sysu_feature_sets(noise=4.0)
    opts = torch_ranking_options(args.kernel_threads, args.trial_workers)
    return {"SYSU multi-shot protocol, 10 trials": lambda: run_sysu(query, gallery, ["f"], ["all"], ["multi"], 10, 10, opts)}


def timed(fn, repeats: int) -> float:
    fn()  # warm-up (allocations, thread pool start)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


class Busy:
    """One CPU-bound neighbour process for the duration of a ``with`` block."""

    def __enter__(self):
        self.p = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        time.sleep(0.3)  # let it get scheduled
        return self

    def __exit__(self, *exc):
        self.p.kill()
        self.p.wait()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--rerank-query", type=int, default=800)
    ap.add_argument("--rerank-gallery", type=int, default=800)
    ap.add_argument("--rerank-dim", type=int, default=2048)
    ap.add_argument("--threads", nargs="+", default=["1", "2", "auto"], help="thread counts; 'auto' = choose_threads()")
    ap.add_argument("--kernel-threads", type=int, default=0,
                    help="TEST.RANKING.KERNEL_THREADS: 0 (auto, the default), 1, or the run's count (as before the key)")
    ap.add_argument("--protocol", action="store_true", help="also time the whole SYSU multi-shot protocol")
    ap.add_argument("--trial-workers", type=int, default=0, help="TEST.RANKING.TRIAL_WORKERS for --protocol")
    ap.add_argument("--json", default="", help="also write the rows here")
    a = ap.parse_args(argv)
    auto = choose_threads()
    work = kernels(a)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    rows, one_thread_solo = [], {}
    for label in a.threads:
        n = auto.threads if label == "auto" else int(label)
        torch.set_num_threads(n)
        for name, fn in work.items():
            solo = timed(fn, a.repeats)
            with Busy():
                busy = timed(fn, a.repeats)
            if n == 1:
                one_thread_solo[name] = solo
            base = one_thread_solo.get(name)
            rows.append({"kernel": name, "threads": f"{n} ({label})" if label == "auto" else n,
                         "solo s": round(solo, 4), "busy s": round(busy, 4), "busy/solo": round(busy / solo, 2),
                         "busy/1-thread solo": round(busy / base, 2) if base else "-"})
    print(f"{os.cpu_count()} CPUs, auto = {auto.threads} ({auto.reason}), kernel threads {a.kernel_threads}, "
          f"trial workers {a.trial_workers}, torch {torch.__version__}, "
          f"load average before: {', '.join(f'{x:.2f}' for x in load) if load else 'n/a'}, median of {a.repeats}")
    print(tabulate(rows, headers="keys", tablefmt="pipe"))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"auto": auto.threads, "reason": auto.reason, "load_before": load, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
