"""Does PAENet help, with and without test-time labels? Trains, on the same generated data with the
same budget and the same seeds, the baseline, attribute supervision alone (AAL on image features,
no attribute inputs: the paper's Table 3(c) row), PAENet reference and paper trained on ground-truth
inputs (the official setup) and the label-free setup (attribute recognizer, PAE fed its
predictions), and prints mean ± std over the seeds for each test-time attribute source, with the
attribute mA of the model's ``attribute_probs``. Each run is tools/train_net.py on
configs/PAENet/demo.yml plus the run's overrides; the data are generated once under --root.

    .venv/bin/python bench/paenet_vs_baseline.py --root datasets/demo --out output/bench_vs_baseline \
        --seeds 0,1,2 SOLVER.MAX_EPOCH 10
    # a smoke run of the script itself (minutes, numbers meaningless):
    .venv/bin/python bench/paenet_vs_baseline.py --root /tmp/b/data --out /tmp/b/out --seeds 0,1,2 \
        SOLVER.MAX_EPOCH 1 DATALOADER.ITERS_PER_EPOCH 2 TEST.SYSU.NUM_TRIALS 2 TEST.SYSU.MODES '["all"]' \
        TEST.SYSU.SHOTS '["single"]'
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OFFICIAL_INPUTS = ["PAENET.RECOGNIZER.ENABLED", "False", "PAENET.TRAIN_ATTRIBUTE_INPUT", "gt",
                   "PAENET.DEFAULT_ATTRIBUTE_SOURCE", "gt"]
# name → overrides of configs/PAENet/demo.yml (the label-free reference setup).
RUNS = {
    "baseline": ["MODEL.META_ARCHITECTURE", "CrossModalBaseline", "TEST.ATTRIBUTE_SOURCES", "[]"],
    "attribute supervision alone": ["PAENET.PAE.ENABLED", "False", *OFFICIAL_INPUTS,
                                    "TEST.ATTRIBUTE_SOURCES", '["zeros"]'],
    "PAENet reference (gt inputs)": [*OFFICIAL_INPUTS, "TEST.ATTRIBUTE_SOURCES", '["gt", "zeros"]'],
    "PAENet paper (gt inputs)": ["PAENET.VARIANT", "paper", *OFFICIAL_INPUTS, "TEST.ATTRIBUTE_SOURCES",
                                 '["gt", "zeros"]'],
    "PAENet reference label-free": [],
    "PAENet paper label-free": ["PAENET.VARIANT", "paper"],
}
METRICS = ("Rank-1", "mAP", "mINP")


def run_once(name: str, extra: list[str], seed: int, args) -> str:
    out = os.path.join(args.out, name.replace(" ", "_").replace("(", "").replace(")", ""), f"seed{seed}")
    if not args.reuse:
        cmd = [sys.executable, os.path.join(REPO, "tools", "train_net.py"), "--config-file",
               os.path.join(REPO, "configs", "PAENet", "demo.yml"), "DATASETS.ROOT", args.root, "OUTPUT_DIR", out,
               "SEED", str(seed), *extra, *args.opts]
        print("running:", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return out


def read_rows(out: str, task: str) -> dict[str, dict[str, float]]:
    """source ("-" when the model takes no attributes) → metric → value, from results.json."""
    results = json.load(open(os.path.join(out, "results.json")))["results"]
    metrics, attributes = results[task], results.get(f"{task.split('/')[0]}/attributes", {})
    sources = sorted({k.split("/")[0] for k in metrics if k.count("/") >= 2}) or ["-"]
    rows = {}
    for source in sources:
        pre = "" if source == "-" else f"{source}/"
        row = {m: metrics.get(f"{pre}FC/{m}", float("nan")) for m in METRICS}
        row["mA"] = attributes.get(f"{pre}mA", float("nan"))
        rows[source] = row
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default="datasets/demo", help="DATASETS.ROOT (generated when missing)")
    p.add_argument("--out", default="output/bench_vs_baseline")
    p.add_argument("--task", default="SYSU_MM01/all-single")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (at least 3)")
    p.add_argument("--only", default="", help="comma-separated subset of the run names")
    p.add_argument("--reuse", action="store_true", help="only print the table of existing runs")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="overrides for every run (e.g. SOLVER.MAX_EPOCH 6)")
    args = p.parse_args(argv)
    args.seeds = [int(s) for s in args.seeds.split(",")]
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    if len(args.seeds) < 3:
        p.error("give at least 3 seeds: one seed cannot tell a difference from noise")
    table: dict[tuple[str, str], dict[str, list[float]]] = {}
    for name, extra in RUNS.items():
        if only and name not in only:
            continue
        for seed in args.seeds:
            for source, row in read_rows(run_once(name, extra, seed, args), args.task).items():
                cell = table.setdefault((name, source), {k: [] for k in row})
                for k, v in row.items():
                    cell[k].append(v)
    print(f"\n{args.task}, FC feature, mean ± std over seeds {args.seeds} (each the mean of the trials)")
    print("| model | attribute source | " + " | ".join(METRICS) + " | attribute mA |")
    print("|---|---|" + "---|" * (len(METRICS) + 1))
    for (name, source), cell in table.items():
        vals = [f"{np.nanmean(v):.2f} ± {np.nanstd(v):.2f}" if not np.all(np.isnan(v)) else "–" for v in cell.values()]
        print(f"| {name} | {source} | " + " | ".join(vals) + " |")


if __name__ == "__main__":
    main()
