#!/usr/bin/env python
"""Train models over seeds on the synthetic SYSU-MM01 with one shared budget; compare them honestly.

    # does PAE/AAL help? (baseline, attribute supervision alone, PAENet on annotations, label-free)
    python bench/synthetic_benchmark.py --suite paenet --seeds 0 1 2 --jobs 2
    # the paper's Table 6 layout: each base alone and with PAE/AAL attached
    python bench/synthetic_benchmark.py --suite plugin --seeds 0 1 2 --jobs 2
    # any configs
    python bench/synthetic_benchmark.py --configs configs/Baseline/sysu.yml my.yml --seeds 0 1 2

Every run is ``tools/train_net.py --config-file <row config> <row overrides> <budget> DATASETS.ROOT ...
OUTPUT_DIR OUT/<row>/seed<k> SEED k <--opts>``: the budget is ``configs/Benchmark/budget.yml`` (the
same backbone, input size, optimiser, iterations and validation split for every row), flattened to
KEY VALUE pairs. The data are generated once under ``--data-root`` (preset ``--preset``, default
``benchmark``). Runs with a ``results.json`` are reused (``--force`` retrains). ``--jobs N`` runs N
trainings at once with ``cores // N`` threads each (two one-thread runs finish ~1.4x sooner than
two two-thread runs one after the other on a 2-core CPU).

Writes OUT/table.md: per row and test-time attribute source, mean ± sample std over seeds of the
final test evaluation (Rank-1, mAP, mINP; the FC feature), the attribute recognizer's mA where the
model predicts attributes, the seeds and the exact chance Rank-1 of the gallery. ``gt`` rows feed the
test images' annotations to the model (label leakage) and say so. OUT/learning_curves.png plots
Rank-1 and mAP of the periodic evaluations against iteration, one line per row (the validation
split when evaluated, the label-free source when the model takes attributes; never ``gt``), mean ±
std over seeds.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
import yaml
from tabulate import tabulate

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUDGET = os.path.join(REPO, "configs", "Benchmark", "budget.yml")
SOURCE_LABELS = {"": "–", "predicted": "predicted (label-free)", "zeros": "zeros",
                 "gt": "gt (test labels: leakage)"}


class Row(NamedTuple):
    """One model of a comparison: its folder name, its label, its config and overrides."""

    key: str
    label: str
    config: str
    overrides: tuple = ()


_OFFICIAL_INPUTS = ("TEST.ATTRIBUTE_SOURCES", '["gt", "zeros"]')
# a label-free plug-in config switched to the official protocol: annotations as inputs in training and
# test, no recognizer, the attribute lookup of configs/PAENet/sysu.yml
_ON_ANNOTATIONS = ("PAENET.RECOGNIZER.ENABLED", "False", "PAENET.TRAIN_ATTRIBUTE_INPUT", "gt",
                   "PAENET.DEFAULT_ATTRIBUTE_SOURCE", "gt", "DATASETS.ATTRIBUTES.FALLBACK", "as_is") + _OFFICIAL_INPUTS
SUITES = {
    # Issue "PAENet science": the same data, budget and seeds for each setup.
    "paenet": [
        Row("baseline", "baseline (MMD-ReID losses)", "configs/Baseline/sysu.yml"),
        Row("attribute_supervision", "attribute supervision alone (PAE off, AAL on)", "configs/PAENet/sysu.yml",
            ("PAENET.PAE.ENABLED", "False", "TEST.ATTRIBUTE_SOURCES", '["zeros"]')),
        Row("paenet_reference_gt", "PAENet reference, trained on annotations (official)", "configs/PAENet/sysu.yml",
            _OFFICIAL_INPUTS),
        Row("paenet_paper_gt", "PAENet paper, trained on annotations", "configs/PAENet/sysu_paper.yml", _OFFICIAL_INPUTS),
        Row("paenet_reference_labelfree", "PAENet reference, label-free", "configs/PAENet/sysu_labelfree.yml"),
        Row("paenet_paper_labelfree", "PAENet paper, label-free", "configs/PAENet/sysu_labelfree.yml",
            ("PAENET.VARIANT", "paper")),
    ],
    # The paper's Table 6: each base alone and with PAE/AAL attached, label-free and trained on
    # annotations as the paper does (its gt row is then the paper's setting: test annotations as inputs).
    "plugin": [
        Row("agw", "AGW", "configs/AGW/sysu.yml"),
        Row("agw_paenet_labelfree", "AGW + PAE/AAL, label-free", "configs/PAENet/agw_sysu.yml"),
        Row("agw_paenet_gt", "AGW + PAE/AAL, trained on annotations", "configs/PAENet/agw_sysu.yml", _ON_ANNOTATIONS),
        Row("hct", "HCT (global)", "configs/HCT/sysu.yml"),
        Row("hct_paenet_labelfree", "HCT (global) + PAE/AAL, label-free", "configs/PAENet/hct_sysu.yml"),
        Row("hct_paenet_gt", "HCT (global) + PAE/AAL, trained on annotations", "configs/PAENet/hct_sysu.yml", _ON_ANNOTATIONS),
        Row("baseline", "MMD (the baseline)", "configs/Baseline/sysu.yml"),
        Row("paenet_reference_labelfree", "MMD + PAE/AAL, label-free", "configs/PAENet/sysu_labelfree.yml"),
        Row("paenet_reference_gt", "MMD + PAE/AAL, trained on annotations (PAENet official)", "configs/PAENet/sysu.yml",
            _OFFICIAL_INPUTS),
    ],
}


def flatten(node: dict, prefix: str = "") -> list[str]:
    """A nested yaml mapping → ``KEY VALUE`` strings for tools/train_net.py (lists in yaml syntax)."""
    out: list[str] = []
    for k, v in node.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out += flatten(v, f"{key}.")
        else:
            out += [key, repr(v) if isinstance(v, list) else str(v)]
    return out


def budget_overrides(path: str = BUDGET) -> list[str]:
    with open(path) as f:
        return flatten(yaml.safe_load(f) or {})


def run_one(row: Row, seed: int, out: str, data_root: str, budget: list[str], opts: list[str], force: bool,
            threads: int) -> str:
    if os.path.isfile(os.path.join(out, "results.json")) and not force:
        print(f"reusing {out}", flush=True)
        return out
    if force and os.path.isfile(os.path.join(out, "metrics.json")):
        os.remove(os.path.join(out, "metrics.json"))  # the JSON writer appends
    cmd = [sys.executable, os.path.join(REPO, "tools", "train_net.py"), "--config-file", os.path.join(REPO, row.config),
           *row.overrides, *budget, "DATASETS.ROOT", data_root, "OUTPUT_DIR", out, "SEED", str(seed), *opts]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    os.makedirs(out, exist_ok=True)
    print(f"running {row.key} seed {seed} ({threads} thread(s)): {' '.join(cmd)}", flush=True)
    with open(os.path.join(out, "bench_stdout.log"), "w") as log:
        rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    if rc != 0:
        raise SystemExit(f"{row.key} seed {seed} failed (exit {rc}); see {out}/bench_stdout.log")
    print(f"finished {row.key} seed {seed}", flush=True)
    return out


def final_rows(run_dir: str, task: str, feature: str = "FC") -> dict[str, dict[str, float]]:
    """attribute source ("" when the model takes none) → {Rank-1, mAP, mINP, chance, mA} of ``task``."""
    results = json.load(open(os.path.join(run_dir, "results.json")))["results"]
    if task not in results:
        raise SystemExit(f"{run_dir}/results.json has no task '{task}'; it has {sorted(results)}.")
    metrics = results[task]
    attributes = results.get(f"{task.split('/')[0]}/attributes", {})
    out: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        m = re.fullmatch(rf"(?:(\w+)/)?{feature}/(Rank-1|mAP|mINP|chance)", key)
        if m:
            out.setdefault(m.group(1) or "", {})[m.group(2)] = float(value)
    for source, row in out.items():
        if f"{source}/mA" in attributes and source in ("", "predicted"):  # the recognizer's, label-free
            row["mA"] = float(attributes[f"{source}/mA"])
    return out


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
            if k.endswith(f"/{metric}") and pattern.search(k) and "/gt/" not in k:
                out[k][min(it, last) if last else it] = float(v)
    return {k: v for k, v in out.items() if k in _headline_keys(list(out))}


def _headline_keys(keys: list[str]) -> list[str]:
    """One curve per run: the validation split when it was evaluated (the test split's single final
    point is in the table), and the label-free source (predicted) over zeros when both exist."""
    if any("_val/" in k for k in keys):
        keys = [k for k in keys if "_val/" in k]
    if any("/predicted/" in k for k in keys):
        keys = [k for k in keys if "/zeros/" not in k]
    return keys


def fmt(values) -> str:
    """mean ± sample standard deviation (ddof=1) over seeds; a single seed is shown alone."""
    values = [v for v in values if not np.isnan(v)]
    if not values:
        return "–"
    return f"{np.mean(values):.2f} ± {np.std(values, ddof=1):.2f}" if len(values) > 1 else f"{values[0]:.2f} (1 seed)"


def write_table(runs: dict[str, list[str]], labels: dict[str, str], task: str) -> str:
    """One line per (row, test-time attribute source): mean ± std over the row's seeds."""
    lines = []
    for key, dirs in runs.items():
        per_source: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for d in dirs:
            for source, row in final_rows(d, task).items():
                for metric, value in row.items():
                    per_source[source][metric].append(value)
        for source in sorted(per_source, key=lambda s: list(SOURCE_LABELS).index(s) if s in SOURCE_LABELS else 99):
            cell = per_source[source]
            chance = sorted({round(v, 2) for v in cell["chance"]})
            lines.append([labels.get(key, key), SOURCE_LABELS.get(source, source), len(cell["Rank-1"]),
                          fmt(cell["Rank-1"]), fmt(cell["mAP"]), fmt(cell["mINP"]), fmt(cell.get("mA", [])),
                          " / ".join(f"{c:.2f}" for c in chance) or "–"])
    return tabulate(lines, headers=["model", "test-time attributes", "seeds", "Rank-1", "mAP", "mINP",
                                    "attribute mA", "chance Rank-1"], tablefmt="pipe", disable_numparse=True)


def plot_curves(runs: dict[str, list[str]], labels: dict[str, str], pattern: re.Pattern, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, metric in zip(axes, ("Rank-1", "mAP")):
        for key, dirs in runs.items():
            per_key = defaultdict(lambda: defaultdict(list))
            for d in dirs:
                for k, series in curves(d, metric, pattern).items():
                    for it, v in series.items():
                        per_key[k][it].append(v)
            for k, series in per_key.items():
                its = sorted(series)
                mean = np.array([np.mean(series[i]) for i in its])
                std = np.array([np.std(series[i], ddof=1) if len(series[i]) > 1 else 0.0 for i in its])
                line, = ax.plot(its, mean, marker="o", label=f"{labels.get(key, key)}: {k.rsplit('/', 1)[0]}")
                ax.fill_between(its, mean - std, mean + std, color=line.get_color(), alpha=0.15)
        ax.set_xlabel("iteration")
        ax.set_ylabel(f"{metric} (%)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=6)
    fig.suptitle("synthetic SYSU-MM01: periodic evaluations, mean ± std over seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--suite", nargs="+", choices=sorted(SUITES), help="one or more suites (shared rows run once)")
    what.add_argument("--configs", nargs="+")
    p.add_argument("--rows", nargs="+", help="only these rows of the suite (their keys)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--data-root", default="datasets/benchmark", help="DATASETS.ROOT holding SYSU-MM01")
    p.add_argument("--preset", default="benchmark", help="generator preset when the data is missing")
    p.add_argument("--data-seed", type=int, default=0)
    p.add_argument("--budget", default=BUDGET, help="yaml of the keys every run shares ('' for none)")
    p.add_argument("--out", default="output/synthetic_benchmark")
    p.add_argument("--task", default="SYSU_MM01/all-single", help="the results.json task to tabulate")
    p.add_argument("--curves", default=r"all-single", help="regex on the periodic evaluation keys to plot")
    p.add_argument("--jobs", type=int, default=1, help="trainings at once (threads each: cores // jobs)")
    p.add_argument("--force", action="store_true", help="retrain runs that already have results")
    p.add_argument("--report-only", action="store_true", help="tabulate finished runs, train nothing")
    p.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="KEY VALUE pairs applied to every run (last)")
    a = p.parse_args(argv)
    if len(a.opts) % 2:
        p.error(f"--opts must be KEY VALUE pairs, got {a.opts}")
    if len(a.seeds) < 3:
        print(f"warning: {len(a.seeds)} seed(s): the table cannot tell a difference from seed noise", file=sys.stderr)
    if a.suite:
        known: dict[str, Row] = {}
        for suite in a.suite:
            for r in SUITES[suite]:
                known.setdefault(r.key, r)
        unknown = [k for k in a.rows or [] if k not in known]
        if unknown:
            p.error(f"--rows {unknown} are not rows of {a.suite}: {list(known)}")
        rows = [known[k] for k in a.rows] if a.rows else list(known.values())  # --rows order = run order
    else:
        rows = [Row(os.path.splitext(os.path.basename(c))[0], os.path.splitext(os.path.basename(c))[0],
                    os.path.relpath(os.path.abspath(c), REPO)) for c in a.configs]
    for row in rows:
        if not os.path.isfile(os.path.join(REPO, row.config)):
            p.error(f"row {row.key}: {row.config} is not a file")
    sysu_root = os.path.join(a.data_root, "SYSU-MM01")
    if not os.path.isdir(sysu_root) and not a.report_only:
        from fastreid_ext.data.synthetic import generate_sysu

        generate_sysu(sysu_root, seed=a.data_seed, preset=a.preset)
    data_root = os.path.abspath(a.data_root)
    budget = budget_overrides(a.budget) if a.budget else []
    threads = max(1, (os.cpu_count() or 1) // max(1, a.jobs))
    jobs = [(row, s, os.path.join(a.out, row.key, f"seed{s}")) for row in rows for s in a.seeds]
    if a.report_only:
        done = [j for j in jobs if os.path.isfile(os.path.join(j[2], "results.json"))]
        print(f"{len(done)} of {len(jobs)} runs finished; tabulating those.")
        jobs = done
    else:
        with ThreadPoolExecutor(max_workers=max(1, a.jobs)) as pool:
            list(pool.map(lambda j: run_one(j[0], j[1], j[2], data_root, budget, a.opts, a.force, threads), jobs))
    runs: dict[str, list[str]] = {}
    for row, _, out in jobs:
        runs.setdefault(row.key, []).append(out)
    labels = {r.key: r.label for r in rows}
    table = write_table(runs, labels, a.task)
    header = (f"Synthetic SYSU-MM01 (preset {a.preset!r}, data seed {a.data_seed}), {a.task}, FC feature, final "
              f"evaluation on the test split, mean ± std over seeds {a.seeds}; budget {os.path.relpath(a.budget, REPO) if a.budget else '(none)'}"
              f"{'; options ' + ' '.join(a.opts) if a.opts else ''}. 'gt' rows feed the test images' annotations (label leakage).\n\n")
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "table.md"), "w") as f:
        f.write(header + table + "\n")
    plot_curves(runs, labels, re.compile(a.curves), os.path.join(a.out, "learning_curves.png"))
    print(header + table)
    print(f"Wrote {a.out}/table.md and {a.out}/learning_curves.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
