"""Evaluation results for people (a tabulate table) and for programs (``results.json``)."""
from __future__ import annotations

import json
import os

from tabulate import tabulate

__all__ = ["results_table", "summary_table", "write_results_json", "TABLE_METRICS"]

TABLE_METRICS = ("Rank-1", "Rank-5", "Rank-10", "Rank-20", "mAP", "mINP")


def results_table(runs) -> str:
    """One row per (task, feature): mean ± std over trials of the reported metrics."""
    rows = []
    for run in runs:
        summary = run.summary()
        cells = []
        for metric in TABLE_METRICS:
            key = f"{run.feature}/{metric}"
            if key not in summary:
                cells.append("-")
                continue
            std = summary[f"{key}-std"]
            cells.append(f"{summary[key]:.2f}" + (f" ± {std:.2f}" if run.info.get("num_trials", 1) > 1 else ""))
        rows.append([run.task, run.feature, run.info.get("num_trials", 1), *cells])
    return tabulate(rows, headers=["protocol", "feature", "trials", *TABLE_METRICS], tablefmt="pipe")


def summary_table(results: dict) -> str:
    """The same table from a ``{task: {"[source/]feature/metric[-std]": value}}`` results dict (what
    evaluators return), so the command line can end a run with it whatever evaluator produced it."""
    rows = []
    for task, metrics in results.items():
        prefixes = list(dict.fromkeys(k.rsplit("/", 1)[0] for k in metrics if "/" in k and not k.endswith("-std")))
        for prefix in prefixes:
            cells = []
            for metric in TABLE_METRICS:
                value, std = metrics.get(f"{prefix}/{metric}"), metrics.get(f"{prefix}/{metric}-std")
                cells.append("-" if value is None else f"{value:.2f}" + (f" ± {std:.2f}" if std is not None else ""))
            if any(c != "-" for c in cells):
                rows.append([task, prefix, *cells])
    return tabulate(rows, headers=["protocol", "feature", *TABLE_METRICS], tablefmt="pipe")


def write_results_json(path: str, payload: dict) -> None:
    """Write atomically (a reader never sees half a file)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=2, sort_keys=False)
    os.replace(tmp, path)
