"""Evaluation results for people (a tabulate table) and for programs (``results.json``)."""
from __future__ import annotations

import json
import os

from tabulate import tabulate

__all__ = ["results_table", "summary_table", "write_results_json", "TABLE_METRICS", "LEAKAGE_NOTE"]

TABLE_METRICS = ("Rank-1", "Rank-5", "Rank-10", "Rank-20", "mAP", "mINP")
CHANCE_HEADER = "chance Rank-1"
NOTE_HEADER = "note"
# ground-truth attributes of the query and gallery images are network inputs: they identify people
# on their own, so such rows do not measure retrieval from the image
LEAKAGE_NOTE = "label leakage: ground-truth test attributes are inputs"


def _chance_and_note(metrics: dict, prefix: str) -> list[str]:
    """The chance Rank-1 of a row's galleries (mean over trials) and its note (the ``gt`` source leaks)."""
    chance = metrics.get(f"{prefix}/chance")
    return ["-" if chance is None else f"{chance:.2f}", LEAKAGE_NOTE if prefix.split("/")[0] == "gt" else ""]


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
        rows.append([run.task, run.feature, run.info.get("num_trials", 1), *cells, *_chance_and_note(summary, run.feature)])
    return tabulate(rows, headers=["protocol", "feature", "trials", *TABLE_METRICS, CHANCE_HEADER, NOTE_HEADER],
                    tablefmt="pipe", disable_numparse=True)


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
                rows.append([task, prefix, *cells, *_chance_and_note(metrics, prefix)])
    # the chance and note columns come with evaluators that report chance (all of today's)
    with_chance = any(k.endswith("/chance") for metrics in results.values() for k in metrics)
    headers = ["protocol", "feature", *TABLE_METRICS] + ([CHANCE_HEADER, NOTE_HEADER] if with_chance else [])
    rows = [row if with_chance else row[: len(headers)] for row in rows]
    return tabulate(rows, headers=headers, tablefmt="pipe", disable_numparse=True)


def write_results_json(path: str, payload: dict) -> None:
    """Write atomically (a reader never sees half a file)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=2, sort_keys=False)
    os.replace(tmp, path)
