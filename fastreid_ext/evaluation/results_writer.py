"""Evaluation results for people (a tabulate table) and for programs (``results.json``)."""
from __future__ import annotations

import json
import os

import numpy as np
from tabulate import tabulate

from ..checkpoint.reid_checkpointer import atomic_write_text
from .result_keys import ResultKey

__all__ = ["results_table", "summary_table", "aggregate_trials", "load_runs", "write_results_json", "TABLE_METRICS",
           "SUMMARY_METRICS", "LEAKAGE_NOTE", "source_label"]

TABLE_METRICS = ("Rank-1", "Rank-5", "Rank-10", "Rank-20", "mAP", "mINP")
CHANCE_HEADER = "chance Rank-1"
NOTE_HEADER = "note"
# a source that feeds the query and gallery images' own annotations to the network identifies people
# on its own, so such rows do not measure retrieval from the image (the model declares which: InputSource)
LEAKAGE_NOTE = "label leakage: ground-truth test attributes are inputs"


def source_label(source: str, leaks: bool = False) -> str:
    """How tables name a test-time input source; one that leaks labels says so."""
    return f"{source} (leakage)" if leaks and source else source


def _leaks(info: dict | None) -> bool:
    return bool((info or {}).get("leaks_labels"))


def _chance_and_note(metrics: dict, prefix: str, leaks: bool) -> list[str]:
    """The chance Rank-1 of a row's galleries (mean over trials) and its note (a leaking source)."""
    chance = metrics.get(f"{prefix}/chance")
    return ["-" if chance is None else f"{chance:.2f}", LEAKAGE_NOTE if leaks else ""]


def results_table(runs) -> str:
    """One row per (task, feature): mean ± std over trials of the reported metrics."""
    rows = []
    for run in runs:
        summary = run.summary()
        cells = []
        for metric in TABLE_METRICS:
            key = f"{run.prefix}/{metric}"
            if key not in summary:
                cells.append("-")
                continue
            std = summary[f"{key}-std"]
            cells.append(f"{summary[key]:.2f}" + (f" ± {std:.2f}" if run.info.get("num_trials", 1) > 1 else ""))
        rows.append([run.task, run.prefix, run.info.get("num_trials", 1), *cells,
                     *_chance_and_note(summary, run.prefix, _leaks(run.info))])
    return tabulate(rows, headers=["protocol", "feature", "trials", *TABLE_METRICS, CHANCE_HEADER, NOTE_HEADER],
                    tablefmt="pipe", disable_numparse=True)


SUMMARY_METRICS = ("Rank-1", "Rank-10", "Rank-20", "mAP", "mINP")
ATTRIBUTE_LEGEND = ("attributes: the test-time input source the model was fed; '(leakage)' marks label leakage, a "
                    "source made of the test images' own annotations (not a deployable number)")


def _trials_cell(info: dict | None) -> tuple[str, bool]:
    """(text, show ±): a single trial or trials that all gave the same numbers have no spread."""
    if not info or ("num_trials" not in info and not info.get("per_trial")):
        return "-", True
    n = int(info.get("num_trials", len(info.get("per_trial", [])) or 1))
    per_trial = info.get("per_trial") or []
    if n <= 1:
        return "1", False
    if per_trial and all(t == per_trial[0] for t in per_trial[1:]):
        return f"{n} identical", False
    return str(n), True


def summary_table(results: dict, runs=(), headline: str = "") -> str:
    """The closing table of a run, from the evaluators' ``{task: {"[source/]feature/metric[-std]": value}}``
    and, optionally, the ``runs`` of their ``results.json`` (trial counts, gallery identities).

    Columns: protocol, test-time attributes, feature (with its test-time options), Rank-1/10/20, mAP,
    mINP (mean ± population std over trials), trials, chance Rank-1 (the evaluator's exact ``chance``
    value, else 100 / gallery identities). ``gt`` rows say they leak labels. The headline row (the
    flattened key ``headline``, else the first row without ``gt``) is marked ``*``; legends follow."""
    info = {(r.get("task"), r.get("feature")): r for r in runs or ()}
    head = ResultKey.parse(headline, "TEST.SELECT_METRIC") if headline else None
    keys: dict[tuple[str, str], ResultKey] = {}  # (task, row prefix) -> a key of that row
    for task, metrics in results.items():
        for metric_key in metrics:
            try:
                k = ResultKey.from_parts(task, metric_key)
            except ValueError:
                continue
            if not k.is_attribute and k.metric in SUMMARY_METRICS:
                keys.setdefault((task, k.prefix), k)
    rows, sources, exact_chance = [], set(), False
    for (task, prefix), k in keys.items():
        metrics = results[task]
        run = info.get((task, prefix))
        trials, spread = _trials_cell(run)
        cells = []
        for metric in SUMMARY_METRICS:
            value, std = metrics.get(f"{prefix}/{metric}"), metrics.get(f"{prefix}/{metric}-std")
            cells.append("-" if value is None else f"{value:.2f}" + (f" ± {std:.2f}" if spread and std is not None else ""))
        exact, ids = metrics.get(f"{prefix}/chance"), (run or {}).get("gallery_ids")
        exact_chance = exact_chance or exact is not None
        chance = (f"{exact:.2f}" if exact is not None
                  else f"{sum(100.0 / i for i in ids) / len(ids):.2f}" if ids else "-")
        if k.source:
            sources.add(k.source)
        marked = head is not None and head.task_key == task and head.prefix == prefix
        split = (run or {}).get("split_trial")  # RegDB: which train/test split was evaluated
        cell = task if split is None else f"{task} (split {split})"
        rows.append([cell, source_label(k.source, _leaks(run)) or "-", k.feature, *cells, trials, chance, marked,
                     _leaks(run)])
    if rows and not any(r[-2] for r in rows):  # no headline asked: the first row that does not leak labels
        next((r for r in rows if not r[-1]), rows[0])[-2] = True
    rows = [r[:-1] for r in rows]
    body = [[("* " if r[-1] else "  ") + r[0], *r[1:-1]] for r in rows]
    table = tabulate(body, headers=["protocol", "attributes", "feature", *SUMMARY_METRICS, "trials", "chance R-1"],
                     tablefmt="pipe", disable_numparse=True)
    legend = ["* headline row" + (f" ({headline})" if headline else " (the first row without label leakage)")
              + "; mean ± population std over trials; 'identical': every trial gave the same numbers",
              "chance R-1 = " + ("Rank-1 of a random ranking of the same galleries (mean over trials)" if exact_chance
                                 else "100 / number of gallery identities per trial")]
    if sources:
        legend.append(ATTRIBUTE_LEGEND)
    return table + "\n" + "\n".join(legend)


def load_runs(output_dir: str) -> list:
    """The ``runs`` of ``output_dir/results.json`` and ``output_dir/inference/*/results.json``."""
    runs = []
    paths = [os.path.join(output_dir, "results.json")]
    inference = os.path.join(output_dir, "inference")
    if os.path.isdir(inference):
        paths += [os.path.join(inference, d, "results.json") for d in sorted(os.listdir(inference))]
    for path in paths:
        if os.path.isfile(path):
            with open(path) as f:
                runs += json.load(f).get("runs", [])
    return runs


def write_results_json(path: str, payload: dict) -> None:
    """Write atomically (a reader never sees half a file), as checkpoints are written."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    atomic_write_text(json.dumps(payload, indent=2, sort_keys=False), path)


def aggregate_trials(per_trial: dict) -> tuple[str, dict]:
    """RegDB's ten-trials report: ``per_trial`` = {trial: results dict}. Returns (table text, summary)
    where summary[task][prefix][metric] = {"mean", "std" (population), "values"} over the trials that
    report it, as RegDB papers give mean ± std over the ten train/test splits."""
    summary: dict = {}
    for trial in sorted(per_trial):
        for task, metrics in per_trial[trial].items():
            for key, value in metrics.items():
                if key.endswith("-std") or "/" not in key:
                    continue
                prefix, metric = key.rsplit("/", 1)
                if metric in SUMMARY_METRICS:
                    summary.setdefault(task, {}).setdefault(prefix, {}).setdefault(metric, {"values": []})["values"].append(value)
    rows = []
    for task, prefixes in summary.items():
        for prefix, metrics in prefixes.items():
            cells = []
            for metric in SUMMARY_METRICS:
                entry = metrics.get(metric)
                if entry is None:
                    cells.append("-")
                    continue
                values = np.array(entry["values"], dtype=np.float64)
                entry.update(mean=float(values.mean()), std=float(values.std()))
                cells.append(f"{entry['mean']:.2f} ± {entry['std']:.2f}" if len(values) > 1 else f"{entry['mean']:.2f}")
            source, _, feature = prefix.rpartition("/")
            n = max(len(e["values"]) for e in metrics.values())
            rows.append([task, source or "-", feature, *cells, n])
    table = tabulate(rows, headers=["protocol", "attributes", "feature", *SUMMARY_METRICS, "trials"], tablefmt="pipe",
                     disable_numparse=True)
    legend = f"mean ± population std over the trials {sorted(per_trial)} (one train/test split each)"
    return table + "\n" + legend, summary
