"""Evaluation results for people (a tabulate table) and for programs (``results.json``)."""
from __future__ import annotations

import json
import os

from tabulate import tabulate

__all__ = ["results_table", "write_results_json", "TABLE_METRICS"]

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


def write_results_json(path: str, payload: dict) -> None:
    """Write atomically (a reader never sees half a file)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=2, sort_keys=False)
    os.replace(tmp, path)
