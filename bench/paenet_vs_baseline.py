"""Does the method work here? Train the baseline and PAENet (reference and paper variants) on the same
generated data with the same budget and seed, and print SYSU all-search single-shot results side by
side for each test-time attribute source. Each run is tools/train_net.py on configs/PAENet/demo.yml
(the baseline: the same file with META_ARCHITECTURE CrossModalBaseline). Example:

    .venv/bin/python bench/paenet_vs_baseline.py --root datasets/demo --out output/bench_vs_baseline
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = {
    "baseline": ["MODEL.META_ARCHITECTURE", "CrossModalBaseline", "TEST.ATTRIBUTE_SOURCES", "[]",
                 "SOLVER.LR_MULTIPLIERS", '[["^backbone\\\\.", 0.1]]'],
    "PAENet reference": ["PAENET.VARIANT", "reference"],
    "PAENet paper": ["PAENET.VARIANT", "paper", "SOLVER.LR_MULTIPLIERS", '[["^base\\\\.backbone\\\\.", 0.1]]'],
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default="datasets/demo", help="DATASETS.ROOT (generated when missing)")
    p.add_argument("--out", default="output/bench_vs_baseline")
    p.add_argument("--task", default="SYSU_MM01/all-single")
    p.add_argument("--reuse", action="store_true", help="only print the table of existing runs")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="overrides for every run (e.g. SOLVER.MAX_EPOCH 6)")
    args = p.parse_args(argv)
    rows = []
    for name, extra in RUNS.items():
        out = os.path.join(args.out, name.replace(" ", "_"))
        if not args.reuse:
            cmd = [sys.executable, os.path.join(REPO, "tools", "train_net.py"), "--config-file",
                   os.path.join(REPO, "configs", "PAENet", "demo.yml"), "DATASETS.ROOT", args.root, "OUTPUT_DIR", out,
                   "SEED", "0", *extra, *args.opts]
            print("running:", " ".join(cmd), flush=True)
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        results = json.load(open(os.path.join(out, "results.json")))["results"][args.task]
        sources = sorted({k.split("/")[0] for k in results if k.count("/") >= 2}) or [""]
        for source in sources:
            pre = f"{source}/" if source else ""
            rows.append((name, source or "-", *(results.get(f"{pre}FC/{m}", float("nan")) for m in
                                                   ("Rank-1", "Rank-10", "mAP", "mINP"))))
    print(f"\n{args.task}, FC feature, mean of the trials")
    print(f"| model | attribute source | Rank-1 | Rank-10 | mAP | mINP |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | " + " | ".join(f"{v:.2f}" for v in r[2:]) + " |")


if __name__ == "__main__":
    main()
