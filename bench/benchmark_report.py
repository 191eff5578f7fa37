"""Per-run summaries of bench/synthetic_benchmark.py and the tables made from them.

A summary (``<results>/<row>/seed_<k>.json``, small JSON committed to the repository) holds a run's
final test metrics per test-time attribute source, its learning curves, and its run record (config
hash, commit, threads, torch, CPU time). The benchmark tables of docs/benchmarks.md are generated from the
summaries alone (``--report-only``) and sit between ``<!-- synthetic-benchmark:<suite>:begin -->``
and ``...:end -->`` markers, so a test can check that they equal what the summaries give.
"""
from __future__ import annotations

import json
import math
import os
import re
from collections import defaultdict

import numpy as np
from tabulate import tabulate

from fastreid_ext.checkpoint import atomic_write_text
from fastreid_ext.evaluation.paired_differences import paired_difference, paired_table
from fastreid_ext.evaluation.result_keys import ResultKey, iter_results

__all__ = ["SOURCE_LABELS", "final_metrics", "run_curves", "summarize", "summary_path", "write_summary",
           "load_summaries", "rows_table", "comparisons_table", "render_suite", "readme_blocks", "replace_blocks"]

SOURCE_LABELS = {"": "–", "predicted": "predicted (label-free)", "zeros": "zeros", "gt": "gt (test labels: leakage)"}
LEAKING_SOURCES = ("gt",)  # PAENet's declared leaking source: never a curve, never an attribute mA
TABLE_METRICS = ("Rank-1", "mAP", "mINP", "chance")


def final_metrics(results: dict, task: str, feature: str = "FC") -> dict[str, dict[str, float]]:
    """attribute source ("" for image-only models) → {Rank-1, mAP, mINP, chance[, mA]} of ``task``
    in a results.json's ``results``; mA is the model's attribute figure under a non-leaking source."""
    if task not in results:
        raise ValueError(f"results have no task '{task}'; they have {sorted(results)}.")
    dataset = task.split("/")[0]
    out: dict[str, dict[str, float]] = {}
    attributes: dict[str, float] = {}
    for key, value in iter_results(results):
        if key.statistic != "mean":
            continue
        if key.task_key == task and key.feature == feature and key.metric in TABLE_METRICS:
            out.setdefault(key.source, {})[key.metric] = float(value)
        elif key.is_attribute and key.dataset == dataset and key.metric == "mA" and key.source not in LEAKING_SOURCES:
            attributes[key.source] = float(value)
    for source, row in out.items():
        if source in attributes:
            row["mA"] = attributes[source]
    return out


def run_curves(metrics_path: str, metric: str, pattern: str) -> dict[str, dict[str, float]]:
    """Periodic evaluations in a run's metrics.json: {key: {iteration: value}} for the keys matching
    ``pattern`` and ending in ``/metric``, one curve per run (the validation split when evaluated, the
    label-free source over zeros), never a leaking source. Iterations are the steps done."""
    rows = [json.loads(line) for line in open(metrics_path)] if os.path.isfile(metrics_path) else []
    last = max((int(r["iteration"]) + 1 for r in rows if "total_loss" in r), default=None)
    out: dict[str, dict[str, float]] = defaultdict(dict)
    regex = re.compile(pattern)
    for row in rows:
        it = int(row["iteration"]) + 1
        for k, v in row.items():
            key = ResultKey.try_parse(k)
            if key is None or key.metric != metric or key.statistic != "mean" or key.source in LEAKING_SOURCES:
                continue
            if regex.search(k):
                out[k][str(min(it, last) if last else it)] = float(v)
    keys = list(out)
    if any("_val/" in k for k in keys):
        keys = [k for k in keys if "_val/" in k]
    if any("/predicted/" in k for k in keys):
        keys = [k for k in keys if "/zeros/" not in k]
    return {k: dict(out[k]) for k in keys}


def summarize(row, seed: int, run_dir: str, record: dict, task: str, curve_pattern: str = "all-single",
              reused_despite: list[str] | None = None) -> dict:
    """The committed summary of one finished run (its results.json, metrics.json and run record)."""
    with open(os.path.join(run_dir, "results.json")) as f:
        results = json.load(f)["results"]
    metrics_path = os.path.join(run_dir, "metrics.json")
    summary = {"row": row.key, "label": row.label, "config": row.config, "overrides": list(row.overrides),
               "seed": int(seed), "task": task, "final": final_metrics(results, task, row.feature),
               "curves": {m: run_curves(metrics_path, m, curve_pattern) for m in ("Rank-1", "mAP")}, "run": record}
    if reused_despite:
        summary["reused_despite"] = list(reused_despite)
    return summary


def summary_path(results_dir: str, row_key: str, seed: int) -> str:
    return os.path.join(results_dir, row_key, f"seed_{seed}.json")


def write_summary(results_dir: str, summary: dict) -> str:
    path = summary_path(results_dir, summary["row"], summary["seed"])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    atomic_write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n", path)
    return path


def load_summaries(results_dir: str) -> dict[str, dict[int, dict]]:
    """{row key: {seed: summary}} of every ``<row>/seed_<k>.json`` under ``results_dir``."""
    out: dict[str, dict[int, dict]] = {}
    if not os.path.isdir(results_dir):
        return out
    for row in sorted(os.listdir(results_dir)):
        folder = os.path.join(results_dir, row)
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            m = re.fullmatch(r"seed_(\d+)\.json", name)
            if m:
                with open(os.path.join(folder, name)) as f:
                    out.setdefault(row, {})[int(m.group(1))] = json.load(f)
    return out


def _fmt(values: list[float]) -> str:
    """mean ± sample standard deviation (ddof=1) over seeds; a single seed is shown alone."""
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "–"
    return f"{np.mean(values):.2f} ± {np.std(values, ddof=1):.2f}" if len(values) > 1 else f"{values[0]:.2f} (1 seed)"


def _source_order(source: str) -> int:
    return list(SOURCE_LABELS).index(source) if source in SOURCE_LABELS else len(SOURCE_LABELS)


def rows_table(rows, summaries: dict[str, dict[int, dict]]) -> tuple[str, list[str]]:
    """One line per (row, test-time source): mean ± std over the row's summarised seeds; rows reused
    despite a differing record are marked †, with a footnote per such run."""
    lines, notes = [], []
    for row in rows:
        per_seed = summaries.get(row.key, {})
        if not per_seed:
            continue
        reused = {s: v["reused_despite"] for s, v in sorted(per_seed.items()) if v.get("reused_despite")}
        notes += [f"† {row.key} seed {s}: reused with --reuse-anyway although {'; '.join(d)}" for s, d in reused.items()]
        cpu = [v["run"]["cpu_s"] / 60 for v in per_seed.values() if v.get("run", {}).get("cpu_s") is not None]
        sources = sorted({src for v in per_seed.values() for src in v["final"]}, key=_source_order)
        for source in sources:
            cells = defaultdict(list)
            for seed in sorted(per_seed):
                for metric, value in per_seed[seed]["final"].get(source, {}).items():
                    cells[metric].append(value)
            chance = sorted({round(v, 2) for v in cells["chance"]})
            lines.append([row.label + (" †" if reused else ""), SOURCE_LABELS.get(source, source),
                          " ".join(str(s) for s in sorted(per_seed)), _fmt(cells["Rank-1"]), _fmt(cells["mAP"]),
                          _fmt(cells["mINP"]), _fmt(cells.get("mA", [])),
                          " / ".join(f"{c:.2f}" for c in chance) or "–", f"{np.mean(cpu):.1f}" if cpu else "–"])
    table = tabulate(lines, headers=["model", "test-time attributes", "seeds", "Rank-1", "mAP", "mINP", "attribute mA",
                                     "chance Rank-1", "CPU min/run"], tablefmt="pipe", disable_numparse=True)
    return table, notes


def comparisons_table(comparisons, summaries: dict[str, dict[int, dict]], metrics=("Rank-1", "mAP")) -> str:
    """Per comparison and metric: the per-seed differences b − a and their 95 % paired t-interval;
    comparisons whose rows have no common summarised seed are left out."""
    out = []
    for comp in comparisons:
        sides = []
        for key, source in (comp.a, comp.b):
            sides.append({s: v["final"][source] for s, v in summaries.get(key, {}).items() if source in v["final"]})
        if not set(sides[0]) & set(sides[1]):
            continue
        for metric in metrics:
            a = {s: m[metric] for s, m in sides[0].items() if metric in m}
            b = {s: m[metric] for s, m in sides[1].items() if metric in m}
            if set(a) & set(b):
                out.append((comp.name, metric, paired_difference(a, b)))
    return paired_table(out) if out else ""


def render_suite(suite: str, rows, comparisons, summaries: dict[str, dict[int, dict]]) -> str:
    """The README block of one suite: a provenance line, the rows table, the paired comparisons."""
    used = [summaries[r.key][s] for r in rows for s in sorted(summaries.get(r.key, {}))]
    if not used:
        return ""
    commits = sorted({(u["run"].get("commit") or "?")[:10] + ("+dirty" if u["run"].get("dirty") else "") for u in used})
    facts = {"task": sorted({u["task"] for u in used}), "threads per run": sorted({u["run"].get("threads") for u in used}),
             "torch": sorted({str(u["run"].get("torch")) for u in used}), "commits": commits,
             "CPU hours in all": [f"{sum(u['run'].get('cpu_s') or 0 for u in used) / 3600:.1f}"]}
    head = (f"Generated by `bench/synthetic_benchmark.py --suite {suite} --report-only --write-readme` from the "
            f"committed summaries (do not edit by hand). " + "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in facts.items())
            + ". Mean ± sample std over the seeds listed.")
    table, notes = rows_table(rows, summaries)
    parts = [head, "", table]
    if notes:
        parts += [""] + [f"{n}  " for n in notes]
    diffs = comparisons_table(comparisons, summaries)
    if diffs:
        parts += ["", "Differences paired by seed (b − a), 95 % t-interval over the common seeds; \"gain\"/\"loss\" only "
                  "where the interval excludes 0:", "", diffs]
    return "\n".join(parts)


_BLOCK = re.compile(r"<!-- synthetic-benchmark:(?P<suite>[\w-]+):begin -->\n(?P<body>.*?)\n?<!-- synthetic-benchmark:"
                    r"(?P=suite):end -->", re.S)


def readme_blocks(text: str) -> dict[str, str]:
    """{suite: the generated text between its markers} of a README."""
    return {m.group("suite"): m.group("body").strip("\n") for m in _BLOCK.finditer(text)}


def replace_blocks(text: str, blocks: dict[str, str]) -> str:
    """``text`` with each marked suite block replaced by ``blocks[suite]`` (blocks without markers are
    not inserted: where a table goes in the README is an editor's choice)."""
    def sub(m):
        suite = m.group("suite")
        body = blocks.get(suite, m.group("body").strip("\n"))
        return f"<!-- synthetic-benchmark:{suite}:begin -->\n{body}\n<!-- synthetic-benchmark:{suite}:end -->"

    return _BLOCK.sub(sub, text)
