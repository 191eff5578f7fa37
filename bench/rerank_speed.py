#!/usr/bin/env python
"""Time and peak memory of ``k_reciprocal_distance`` against the community dense implementation.

The community version (re-written below from its structure: dense (N+M)² distances, a full argsort of
every row, a dense float16 encoding V and its query expansion, Python loops over images) is what the
AGW / fast-reid / Zhong et al. repositories ship. Each method runs in its own process; peak memory is
that process's maximum resident set size minus its size once the features are loaded.

  python bench/rerank_speed.py                      # SYSU multi-shot size: 3803 queries x 3010 gallery, D=2048
  python bench/rerank_speed.py --num-query 2060 --num-gallery 2060   # RegDB size
  python bench/rerank_speed.py --methods ours       # skip the (slow) community version

Measured on the idle 2-core development machine (README "Measured"): SYSU size, ours 2.15 s /
+226 MB, community 14.19 s / +810 MB; RegDB size, ours 1.22 s / +236 MB, community 5.98 s / +299 MB.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np


def community_rerank(qf: np.ndarray, gf: np.ndarray, k1=20, k2=6, lambda_value=0.3, dtype=np.float16) -> np.ndarray:
    """Dense re-ranking in the community style (for comparison only); ``dtype`` of V and the Jaccard
    accumulators: float16 as shipped, float32 to tell its rounding from other differences."""
    import torch

    feat = torch.cat([torch.from_numpy(qf), torch.from_numpy(gf)])
    query_num, all_num = qf.shape[0], feat.shape[0]
    sq = feat.pow(2).sum(1, keepdim=True)
    original = (sq + sq.t()).addmm_(feat, feat.t(), beta=1, alpha=-2).numpy()
    original = np.transpose(original / np.max(original, axis=0))
    v = np.zeros_like(original).astype(dtype)
    initial_rank = np.argsort(original).astype(np.int32)
    half = int(np.around(k1 / 2))
    for i in range(all_num):
        forward = initial_rank[i, : k1 + 1]
        backward = initial_rank[forward, : k1 + 1]
        recip = forward[np.where(backward == i)[0]]
        expansion = recip
        for cand in recip:
            c_forward = initial_rank[cand, : half + 1]
            c_backward = initial_rank[c_forward, : half + 1]
            c_recip = c_forward[np.where(c_backward == cand)[0]]
            if len(np.intersect1d(c_recip, recip)) > 2 / 3 * len(c_recip):
                expansion = np.append(expansion, c_recip)
        expansion = np.unique(expansion)
        weight = np.exp(-original[i, expansion])
        v[i, expansion] = weight / np.sum(weight)
    original = original[:query_num]
    if k2 != 1:
        v_qe = np.zeros_like(v, dtype=dtype)
        for i in range(all_num):
            v_qe[i] = np.mean(v[initial_rank[i, :k2]], axis=0)
        v = v_qe
    del initial_rank
    inv_index = [np.where(v[:, i] != 0)[0] for i in range(all_num)]
    jaccard = np.zeros_like(original, dtype=dtype)
    for i in range(query_num):
        temp_min = np.zeros((1, all_num), dtype=dtype)
        nonzero = np.where(v[i] != 0)[0]
        images = [inv_index[j] for j in nonzero]
        for j in range(len(nonzero)):
            temp_min[0, images[j]] += np.minimum(v[i, nonzero[j]], v[images[j], nonzero[j]])
        jaccard[i] = 1 - temp_min / (2 - temp_min)
    final = jaccard * (1 - lambda_value) + original * lambda_value
    return final[:query_num, query_num:]


def _features(nq, ng, dim, ids, seed):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(ids, dim)).astype(np.float32)
    qf = centres[rng.integers(0, ids, nq)] + rng.normal(size=(nq, dim)).astype(np.float32)
    gf = centres[rng.integers(0, ids, ng)] + rng.normal(size=(ng, dim)).astype(np.float32)
    return qf, gf


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def run_one(args) -> dict:
    """In a child process: one method on the features, time and memory."""
    import torch

    torch.set_num_threads(args.threads)
    qf, gf = _features(args.num_query, args.num_gallery, args.dim, args.ids, args.seed)
    if args.child == "ours":  # imports are not the method's memory
        import scipy.sparse  # noqa: F401

        from fastreid_ext.evaluation.ranking import resolve_backend

        resolve_backend(args.backend)
    base = _peak_rss_mb()
    t0 = time.perf_counter()
    if args.child == "ours":
        from fastreid_ext.evaluation import k_reciprocal_distance

        dist = k_reciprocal_distance(qf, gf, args.k1, args.k2, args.lam, backend=args.backend).numpy()
    else:
        dist = community_rerank(qf, gf, args.k1, args.k2, args.lam, np.dtype(args.community_dtype)).astype(np.float32)
    seconds = time.perf_counter() - t0
    if args.save:
        np.save(args.save, dist)
    return {"method": args.child, "seconds": round(seconds, 2), "peak_extra_mb": round(_peak_rss_mb() - base, 1)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--num-query", type=int, default=3803)
    p.add_argument("--num-gallery", type=int, default=3010)
    p.add_argument("--dim", type=int, default=2048)
    p.add_argument("--ids", type=int, default=96)
    p.add_argument("--k1", type=int, default=20)
    p.add_argument("--k2", type=int, default=6)
    p.add_argument("--lam", type=float, default=0.3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--backend", default="auto", help="kNN search of ours: auto | faiss | torch")
    p.add_argument("--methods", nargs="+", default=["ours", "community"], choices=["ours", "community"])
    p.add_argument("--community-dtype", default="float16", choices=["float16", "float32"],
                   help="V and Jaccard dtype of the community version (float16 as shipped)")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--save", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(run_one(args)))
        return
    rows, saved = [], {}
    tmp = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"rerank_bench_{os.getpid()}")
    for method in args.methods:
        out = f"{tmp}_{method}.npy"
        cmd = [sys.executable, __file__, "--child", method, "--save", out] + [a for a in (argv or sys.argv[1:]) if a != "--methods" and a not in args.methods]
        res = subprocess.run(cmd, check=True, capture_output=True, text=True)
        rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
        saved[method] = out
    print(f"re-ranking {args.num_query} x {args.num_gallery}, D={args.dim}, k1={args.k1} k2={args.k2} lambda={args.lam}, "
          f"{args.threads} threads")
    for r in rows:
        print(f"  {r['method']:9s} {r['seconds']:8.2f} s   peak +{r['peak_extra_mb']:.0f} MB")
    if len(saved) == 2:
        a, b = np.load(saved["ours"]), np.load(saved["community"])
        print(f"  max |ours - community| = {np.abs(a - b).max():.2e} (community V is {args.community_dtype}); "
              f"top-1 agreement {np.mean(a.argmin(1) == b.argmin(1)) * 100:.2f}%")
    for f in saved.values():
        os.remove(f)


if __name__ == "__main__":
    main()
