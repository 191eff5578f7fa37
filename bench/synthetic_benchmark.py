#!/usr/bin/env python
"""Train models over seeds on the synthetic SYSU-MM01 with one shared budget; compare them by seed pairs.

    # every row of both suites, each with its own seed count (5 for compared rows, 3 otherwise)
    python bench/synthetic_benchmark.py --suite paenet plugin --jobs 2 --threads 1
    # the tables of docs/benchmarks.md again from the committed summaries (trains nothing)
    python bench/synthetic_benchmark.py --suite paenet plugin --report-only --write-readme
    # any configs
    python bench/synthetic_benchmark.py --configs configs/Baseline/sysu.yml my.yml --seeds 0 1 2

Every run is ``tools/train_net.py --config-file <row config> <row overrides> <budget> DATASETS.ROOT ...
OUTPUT_DIR OUT/<row>/seed<k> SEED k <--opts>``: the budget is ``configs/Benchmark/budget.yml`` (the
same backbone, input size, optimiser, iterations and validation split for every row), flattened to
KEY VALUE pairs; the rows are bench/benchmark_rows.py. The data are generated once under
``--data-root`` (preset ``--preset``). ``--jobs N`` runs N trainings at once with ``--threads`` threads
each (default cores // N).

Each finished run writes ``run.json`` beside its ``results.json``: the resolved config's hash, the
commit and whether the tree differed from it, the thread count, the torch version, the data, its
wall and CPU time (fastreid_ext.utils.run_provenance). A run with results is reused only when the run
about to start has the same record; otherwise the command stops with one line per run naming what
differs (``--force`` retrains; ``--reuse-anyway`` keeps it and the table marks the row †). Each run's
summary (final metrics per test-time source, curves, record) goes to ``--results`` (committed under
bench/results/); the tables, the paired differences with their 95 % intervals and the learning-curve
figure are made from the summaries (bench/benchmark_report.py).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import yaml

from benchmark_report import load_summaries, readme_blocks, render_suite, replace_blocks, summarize, write_summary
from benchmark_rows import COMPARISONS, SUITES, Row

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUDGET = os.path.join(REPO, "configs", "Benchmark", "budget.yml")
RESULTS = os.path.join(REPO, "bench", "results", "synthetic_sysu")
README = os.path.join(REPO, "docs", "benchmarks.md")  # the generated tables live there (the README links it)


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


def run_opts(row: Row, seed: int, out: str, data_root: str, budget: list[str], opts: list[str], threads: int) -> list[str]:
    """The ``KEY VALUE`` list after ``--config-file`` (the same for training and for the config hash);
    ``NUM_THREADS`` last, so the run uses the thread count its record names."""
    return [*row.overrides, *budget, *row.after_budget, "DATASETS.ROOT", data_root, "OUTPUT_DIR", out, "SEED",
            str(seed), *opts, "NUM_THREADS", str(threads)]


def current_record(row: Row, seed: int, out: str, data_root: str, budget: list[str], opts: list[str], threads: int,
                   data: dict) -> dict:
    """The record the run about to start would write (its identity)."""
    from fastreid_ext.config import load_config
    from fastreid_ext.utils.run_provenance import run_record

    cfg = load_config(os.path.join(REPO, row.config), run_opts(row, seed, out, data_root, budget, opts, threads))
    return run_record(cfg, REPO, threads, data)


def reuse_decision(out: str, record: dict, force: bool, reuse_anyway: bool) -> tuple[str, list[str]]:
    """("train" | "reuse" | "refuse", what differs) for a run folder."""
    from fastreid_ext.utils.run_provenance import differences, read_record

    if force or not os.path.isfile(os.path.join(out, "results.json")):
        return "train", []
    diffs = differences(read_record(os.path.join(out, "run.json")), record, REPO)
    if diffs and not reuse_anyway:
        return "refuse", diffs
    return "reuse", diffs


def run_one(row: Row, seed: int, out: str, opts: list[str], record: dict, force: bool = False) -> bool:
    """Train one run in a subprocess and write its run.json (record + wall and CPU seconds); ``force``
    retrains a run that has results. False when another invocation finished the run meanwhile."""
    from fastreid_ext.engine.run_folder import RunFolderBusyError, hold_run_folder
    from fastreid_ext.utils.run_provenance import write_record

    os.makedirs(out, exist_ok=True)
    # Clear the stale record only while holding the folder's run lock: a live training (of a second
    # invocation on the same --out) holds it, so its files are never deleted under it. The child takes
    # the lock itself once this one is released; if another invocation's child wins that race, this
    # child stops with one line naming the holder and nothing is mixed.
    try:
        lock = hold_run_folder(out)
    except RunFolderBusyError as e:
        raise SystemExit(f"{row.key} seed {seed}: {e}") from None
    with lock:
        if not force and os.path.isfile(os.path.join(out, "results.json")):
            print(f"skipping {row.key} seed {seed}: another invocation finished it meanwhile", flush=True)
            return False
        for name in ("metrics.json", "results.json", "run.json"):  # the JSON writer appends; no stale record
            if os.path.isfile(os.path.join(out, name)):
                os.remove(os.path.join(out, name))
    cmd = [sys.executable, os.path.join(REPO, "tools", "train_net.py"), "--config-file", os.path.join(REPO, row.config),
           *opts]
    threads = str(record["threads"])
    env = dict(os.environ, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
    print(f"running {row.key} seed {seed} ({threads} thread(s)): {' '.join(cmd)}", flush=True)
    start = time.time()
    with open(os.path.join(out, "bench_stdout.log"), "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own CPU time (runs overlap with --jobs)
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{row.key} seed {seed} failed (exit {proc.returncode}); see {out}/bench_stdout.log")
    write_record(os.path.join(out, "run.json"), {**record, "command": cmd[1:], "wall_s": round(time.time() - start, 1),
                                                 "cpu_s": round(usage.ru_utime + usage.ru_stime, 1)})
    print(f"finished {row.key} seed {seed}", flush=True)
    return True


def plot_curves(rows, summaries: dict, path: str) -> None:
    """Rank-1 and mAP of the periodic evaluations against iteration, mean ± std over seeds, per row."""
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, metric in zip(axes, ("Rank-1", "mAP")):
        for row in rows:
            per_key: dict = {}
            for summary in summaries.get(row.key, {}).values():
                for k, series in summary["curves"].get(metric, {}).items():
                    for it, v in series.items():
                        per_key.setdefault(k, {}).setdefault(int(it), []).append(v)
            for k, series in per_key.items():
                its = sorted(series)
                mean = np.array([np.mean(series[i]) for i in its])
                std = np.array([np.std(series[i], ddof=1) if len(series[i]) > 1 else 0.0 for i in its])
                line, = ax.plot(its, mean, marker="o", label=f"{row.label}: {k.rsplit('/', 1)[0]}")
                ax.fill_between(its, mean - std, mean + std, color=line.get_color(), alpha=0.15)
        ax.set_xlabel("iteration")
        ax.set_ylabel(f"{metric} (%)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=6)
    fig.suptitle("synthetic SYSU-MM01: periodic evaluations, mean ± std over seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def select_rows(p, a) -> tuple[dict[str, list[Row]], list[Row]]:
    """({suite: its selected rows}, every selected row once, in run order)."""
    if not a.suite:
        rows = [Row(os.path.splitext(os.path.basename(c))[0], os.path.splitext(os.path.basename(c))[0],
                    os.path.relpath(os.path.abspath(c), REPO)) for c in a.configs]
        return {"configs": rows}, rows
    known: dict[str, Row] = {}
    for suite in a.suite:
        for r in SUITES[suite]:
            known.setdefault(r.key, r)
    unknown = [k for k in a.rows or [] if k not in known]
    if unknown:
        p.error(f"--rows {unknown} are not rows of {a.suite}: {list(known)}")
    keep = set(a.rows or known)
    suites = {s: [r for r in SUITES[s] if r.key in keep] for s in a.suite}
    return suites, [known[k] for k in a.rows] if a.rows else list(known.values())  # --rows order = run order


def report(a, suites: dict[str, list[Row]], rows: list[Row]) -> int:
    summaries = load_summaries(a.results)
    blocks = {s: render_suite(s, suite_rows, COMPARISONS.get(s, []), summaries) for s, suite_rows in suites.items()}
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "table.md"), "w") as f:
        f.write("\n\n".join(f"## {s}\n\n{b}" for s, b in blocks.items()) + "\n")
    for s, b in blocks.items():
        print(f"## {s}\n\n{b or '(no summaries under ' + a.results + ')'}\n")
    if any(summaries.get(r.key) for r in rows):
        plot_curves(rows, summaries, os.path.join(a.out, "learning_curves.png"))
    if a.write_readme:
        with open(a.readme) as f:
            text = f.read()
        missing = [s for s in blocks if blocks[s] and s not in readme_blocks(text)]
        if missing:
            print(f"warning: {a.readme} has no markers for {missing} (<!-- synthetic-benchmark:<suite>:begin/end -->); "
                  "their tables are in the table.md only", file=sys.stderr)
        from fastreid_ext.checkpoint import atomic_write_text

        atomic_write_text(replace_blocks(text, {s: b for s, b in blocks.items() if b}), a.readme)
    print(f"Wrote {a.out}/table.md" + (f" and the tables of {a.readme}" if a.write_readme else ""))
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--suite", nargs="+", choices=sorted(SUITES), help="one or more suites (shared rows run once)")
    what.add_argument("--configs", nargs="+")
    p.add_argument("--rows", nargs="+", help="only these rows of the suite (their keys)")
    p.add_argument("--seeds", nargs="+", type=int, help="these seeds for every row (default: each row's own count)")
    p.add_argument("--data-root", default="datasets/benchmark", help="DATASETS.ROOT holding SYSU-MM01")
    p.add_argument("--preset", default="benchmark", help="generator preset when the data is missing")
    p.add_argument("--data-seed", type=int, default=0)
    p.add_argument("--budget", default=BUDGET, help="yaml of the keys every run shares ('' for none)")
    p.add_argument("--out", default="output/synthetic_benchmark", help="run folders, table.md, the figure")
    p.add_argument("--results", help=f"per-run summaries (default {os.path.relpath(RESULTS, REPO)} for suites, "
                                     "OUT/summaries for --configs)")
    p.add_argument("--task", default="SYSU_MM01/all-single", help="the results.json task to tabulate")
    p.add_argument("--curves", default=r"all-single", help="regex on the periodic evaluation keys to plot")
    p.add_argument("--jobs", type=int, default=1, help="trainings at once")
    p.add_argument("--threads", type=int, help="threads per training (default: cores // jobs); results depend on it")
    p.add_argument("--force", action="store_true", help="retrain runs that already have results")
    p.add_argument("--reuse-anyway", action="store_true", help="reuse runs whose record differs (rows marked †)")
    p.add_argument("--report-only", action="store_true", help="tables from the summaries in --results; train nothing")
    p.add_argument("--dry-run", action="store_true", help="list each run and whether it would train, be reused or be "
                                                          "refused; train nothing")
    p.add_argument("--write-readme", action="store_true", help="with the report, rewrite the marked tables of docs/benchmarks.md")
    p.add_argument("--readme", default=README)
    p.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="KEY VALUE pairs applied to every run (last)")
    a = p.parse_args(argv)
    if len(a.opts) % 2:
        p.error(f"--opts must be KEY VALUE pairs, got {a.opts}")
    if a.threads is not None and a.threads < 1:
        p.error(f"--threads must be at least 1, got {a.threads}")
    suites, rows = select_rows(p, a)
    a.results = a.results or (RESULTS if a.suite else os.path.join(a.out, "summaries"))
    for row in rows:
        if not os.path.isfile(os.path.join(REPO, row.config)):
            p.error(f"row {row.key}: {row.config} is not a file")
    if a.report_only:
        return report(a, suites, rows)
    if a.seeds is not None and len(a.seeds) < 3:
        print(f"warning: {len(a.seeds)} seed(s): no interval can tell a difference from seed noise", file=sys.stderr)
    data_root = os.path.abspath(a.data_root)
    budget = budget_overrides(a.budget) if a.budget else []
    threads = a.threads or max(1, (os.cpu_count() or 1) // max(1, a.jobs))
    data = {"preset": a.preset, "data_seed": a.data_seed}
    jobs = []
    for row in rows:
        for seed in (a.seeds if a.seeds is not None else range(row.seeds)):
            out = os.path.join(os.path.abspath(a.out), row.key, f"seed{seed}")
            opts = run_opts(row, seed, out, data_root, budget, a.opts, threads)
            record = current_record(row, seed, out, data_root, budget, a.opts, threads, data)
            jobs.append((row, seed, out, opts, record, *reuse_decision(out, record, a.force, a.reuse_anyway)))
    if a.dry_run:
        for row, seed, out, _, record, decision, diffs in jobs:
            print(f"{decision:7s} {row.key} seed {seed} ({record['threads']} thread(s)) {out}"
                  f"{': ' + ', '.join(diffs) if diffs else ''}")
        print(f"{sum(j[5] == 'train' for j in jobs)} of {len(jobs)} runs would train")
    refused = [j for j in jobs if j[5] == "refuse"]
    for row, seed, out, *_, diffs in refused:
        print(f"error: {out}: not reused, its run differs: {', '.join(diffs)} (--force retrains it, --reuse-anyway "
              f"keeps it and marks the row)", file=sys.stderr)
    if refused or a.dry_run:
        return 2 if refused else 0
    sysu_root = os.path.join(a.data_root, "SYSU-MM01")
    if not os.path.isdir(sysu_root):
        from fastreid_ext.data.synthetic import generate_sysu

        generate_sysu(sysu_root, seed=a.data_seed, preset=a.preset)
    from fastreid_ext.utils.run_provenance import read_record

    def summary(job) -> None:  # as soon as a run is done, so a stopped command loses no summary
        row, seed, out, _, _, decision, diffs = job
        record = read_record(os.path.join(out, "run.json")) or {}
        write_summary(a.results, summarize(row, seed, out, record, a.task, a.curves, diffs if decision == "reuse" else None))

    for job in (j for j in jobs if j[5] == "reuse"):
        print(f"reusing {job[2]}", flush=True)
        summary(job)
    with ThreadPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        list(pool.map(lambda j: run_one(*j[:5], a.force) and summary(j), [j for j in jobs if j[5] == "train"]))
    return report(a, suites, rows)


if __name__ == "__main__":
    sys.exit(main())
