#!/usr/bin/env python
"""Train and evaluate configs over seeds on the synthetic SYSU-MM01 and compare them honestly.

    python bench/synthetic_benchmark.py --configs configs/Benchmark/baseline.yml [more.yml ...] \\
        --seeds 0 1 2 --data-root datasets/benchmark --out output/synthetic_benchmark [--opts KEY VALUE ...]

Generates the data first when ``--data-root`` has no SYSU-MM01 (``--preset``, default ``benchmark``,
data seed ``--data-seed``), then runs ``tools/train_net.py`` once per (config, seed) in its own
process (OUTPUT_DIR = OUT/<config name>/seed<k>, SEED = k; the KEY VALUE pairs of ``--opts`` apply to
every run, e.g. ``--opts SOLVER.MAX_EPOCH 2`` for a quick check; ``--opts`` comes last). Runs whose results.json exists are
reused (``--force`` retrains). Writes OUT/table.md (mean ± std over seeds of the final evaluation,
with the chance Rank-1 of each gallery) and OUT/learning_curves.png (Rank-1 and mAP against
iteration, one line per model, mean over seeds, from each run's metrics.json).

The curves show whatever the runs evaluated during training: the split named in their metric keys
(test unless the config evaluates a validation split); the legend and the table say which.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import re
import subprocess
import sys
from collections import defaultdict

import numpy as np
from tabulate import tabulate

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VISIBLE_CAMS = {"all": (1, 2, 4, 5), "indoor": (1, 2)}
QUERY_CAMS = (3, 6)


def chance_rank1(sysu_root: str, mode: str, split: str = "test") -> float:
    """Expected single-shot Rank-1 (percent) of a random ranking: the gallery holds one image per
    (id, camera) of the mode's visible cameras, so a query's hit chance is its id's camera count
    over the gallery size, averaged over the infrared queries."""
    ids = [int(p) for p in open(os.path.join(sysu_root, "exp", f"{split}_id.txt")).read().strip().split(",")]
    cams = {p: [c for c in VISIBLE_CAMS[mode] if glob.glob(os.path.join(sysu_root, f"cam{c}", f"{p:04d}", "*"))] for p in ids}
    size = sum(len(v) for v in cams.values())
    hits = [len(cams[p]) / size for p in ids for c in QUERY_CAMS for _ in glob.glob(os.path.join(sysu_root, f"cam{c}", f"{p:04d}", "*"))]
    return 100.0 * float(np.mean(hits))


def run_one(config: str, seed: int, out: str, data_root: str, opts: list[str], force: bool) -> str:
    if os.path.isfile(os.path.join(out, "results.json")) and not force:
        print(f"reusing {out}")
        return out
    if force and os.path.isfile(os.path.join(out, "metrics.json")):
        os.remove(os.path.join(out, "metrics.json"))  # the JSON writer appends
    cmd = [sys.executable, os.path.join(REPO, "tools", "train_net.py"), "--config-file", config,
           "DATASETS.ROOT", data_root, "OUTPUT_DIR", out, "SEED", str(seed), *opts]
    print(" ".join(cmd), flush=True)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "bench_stdout.log"), "w") as log:
        rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT)
    if rc != 0:
        raise SystemExit(f"{config} seed {seed} failed (exit {rc}); see {out}/bench_stdout.log")
    return out


def final_results(run_dir: str) -> dict[str, float]:
    """``{"<dataset>/<task>/<prefix>/<metric>": value}`` of the run's last full evaluation."""
    payload = json.load(open(os.path.join(run_dir, "results.json")))
    return {f"{task}/{k}": v for task, metrics in payload["results"].items() for k, v in metrics.items()
            if not k.endswith("-std") and isinstance(v, (int, float))}


def curves(run_dir: str, metric: str, pattern: re.Pattern) -> dict[str, dict[int, float]]:
    """Per evaluated key matching ``pattern`` and ending in ``/metric``: {iteration: value}."""
    out: dict[str, dict[int, float]] = defaultdict(dict)
    path = os.path.join(run_dir, "metrics.json")
    rows = [json.loads(line) for line in open(path)] if os.path.isfile(path) else []
    # iterations done when the evaluation ran; the final one is stamped one past the last step
    last = max((int(r["iteration"]) + 1 for r in rows if "total_loss" in r), default=None)
    for row in rows:
        it = int(row["iteration"]) + 1
        for k, v in row.items():
            if k.endswith(f"/{metric}") and pattern.search(k):
                out[k][min(it, last) if last else it] = float(v)
    return out


def fmt(values) -> str:
    """mean ± sample standard deviation (ddof=1) over seeds."""
    return f"{np.mean(values):.2f} ± {np.std(values, ddof=1):.2f}" if len(values) > 1 else f"{values[0]:.2f}"


def write_table(runs: dict[str, list[str]], chance: dict[str, float], pattern: re.Pattern) -> str:
    rows = []
    for model, dirs in runs.items():
        per_key = defaultdict(list)
        for d in dirs:
            for k, v in final_results(d).items():
                per_key[k].append(v)
        for key in sorted(k for k in per_key if k.endswith("/Rank-1") and pattern.search(k)):
            prefix = key[: -len("/Rank-1")]
            mode = next((m for m in VISIBLE_CAMS if f"/{m}-single" in prefix), None)
            rows.append([model, prefix, len(per_key[key]), fmt(per_key[key]),
                         fmt(per_key[f"{prefix}/mAP"]) if f"{prefix}/mAP" in per_key else "-",
                         f"{chance[mode]:.2f}" if mode else "-"])
    return tabulate(rows, headers=["model", "evaluation", "seeds", "Rank-1 (mean ± std)", "mAP (mean ± std)",
                                   "chance Rank-1"], tablefmt="pipe", disable_numparse=True)


def plot_curves(runs: dict[str, list[str]], pattern: re.Pattern, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, metric in zip(axes, ("Rank-1", "mAP")):
        for model, dirs in runs.items():
            per_key = defaultdict(lambda: defaultdict(list))
            for d in dirs:
                for k, series in curves(d, metric, pattern).items():
                    for it, v in series.items():
                        per_key[k][it].append(v)
            for k, series in per_key.items():
                its = sorted(series)
                mean = np.array([np.mean(series[i]) for i in its])
                std = np.array([np.std(series[i], ddof=1) if len(series[i]) > 1 else 0.0 for i in its])
                line, = ax.plot(its, mean, marker="o", label=f"{model}: {k.rsplit('/', 1)[0]}")
                ax.fill_between(its, mean - std, mean + std, color=line.get_color(), alpha=0.15)
        ax.set_xlabel("iteration")
        ax.set_ylabel(f"{metric} (%)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("synthetic SYSU-MM01: mean ± std over seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", nargs="+", required=True)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--data-root", default="datasets/benchmark", help="DATASETS.ROOT holding SYSU-MM01")
    p.add_argument("--preset", default="benchmark", help="generator preset when the data is missing")
    p.add_argument("--data-seed", type=int, default=0)
    p.add_argument("--out", default="output/synthetic_benchmark")
    p.add_argument("--select", default=r"all-single", help="regex on the metric keys to tabulate and plot")
    p.add_argument("--force", action="store_true", help="retrain runs that already have results")
    p.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="KEY VALUE pairs applied to every run (last)")
    a = p.parse_args(argv)
    if len(a.opts) % 2:
        p.error(f"--opts must be KEY VALUE pairs, got {a.opts}")
    sysu_root = os.path.join(a.data_root, "SYSU-MM01")
    if not os.path.isdir(sysu_root):
        from fastreid_ext.data.synthetic import generate_sysu

        generate_sysu(sysu_root, seed=a.data_seed, preset=a.preset)
    data_root = os.path.abspath(a.data_root)
    runs = {}
    for config in a.configs:
        if not os.path.isfile(config):
            p.error(f"--configs: {config} is not a file")
        name = os.path.splitext(os.path.basename(config))[0]
        runs[name] = [run_one(config, s, os.path.join(a.out, name, f"seed{s}"), data_root, a.opts, a.force) for s in a.seeds]
    pattern = re.compile(a.select)
    chance = {m: chance_rank1(sysu_root, m) for m in VISIBLE_CAMS}
    table = write_table(runs, chance, pattern)
    header = (f"Synthetic SYSU-MM01 (preset {a.preset!r}, data seed {a.data_seed}), final evaluation on the test "
              f"split; seeds {a.seeds}; options {' '.join(a.opts) or '(none)'}\n\n")
    with open(os.path.join(a.out, "table.md"), "w") as f:
        f.write(header + table + "\n")
    plot_curves(runs, pattern, os.path.join(a.out, "learning_curves.png"))
    print(header + table)
    print(f"Wrote {a.out}/table.md and {a.out}/learning_curves.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
