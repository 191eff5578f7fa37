"""Mean, standard deviation and 95 % t-interval of each metric over repeated runs (``tools/repeat.py``).

The runs differ only in ``SEED``, so each metric is one sample per run: the table gives the mean, the
sample standard deviation (ddof 1) and the two-sided 95 % confidence interval of the mean,
``mean ± t(0.975, n-1) · s / √n`` (Student's t, scipy.stats.t), which is wide for few seeds on purpose.
"""
from __future__ import annotations

import json
import math
import os
import re

import numpy as np
from tabulate import tabulate

from .result_keys import flatten_results as flat_results  # the one flattening of results (numeric leaves)

__all__ = ["flat_results", "seed_statistics", "statistics_table", "read_run_results", "t_interval"]


def read_run_results(output_dir: str) -> dict[str, float]:
    """The flattened ``results`` of a run's results.json files (its own and ``inference/*/``)."""
    paths = [os.path.join(output_dir, "results.json")]
    inference = os.path.join(output_dir, "inference")
    if os.path.isdir(inference):
        paths += [os.path.join(inference, d, "results.json") for d in sorted(os.listdir(inference))]
    flat: dict[str, float] = {}
    for path in paths:
        if os.path.isfile(path):
            with open(path) as f:
                flat.update(flat_results(json.load(f).get("results", {})))
    return flat


def seed_statistics(per_seed: dict[int, dict[str, float]], metrics: str = "") -> dict[str, dict]:
    """``{key: {"values", "seeds", "n", "mean", "std", "ci95": [low, high]}}`` for every key matching the
    regular expression ``metrics`` (all when empty) and ending in no ``-std`` (a run's own spread)."""
    pattern = re.compile(metrics) if metrics else None
    keys = sorted({k for flat in per_seed.values() for k in flat})
    summary: dict[str, dict] = {}
    for key in keys:
        if key.endswith("-std") or (pattern is not None and not pattern.search(key)):
            continue
        seeds = [s for s in sorted(per_seed) if key in per_seed[s]]
        values = [per_seed[s][key] for s in seeds]
        mean, std, low, high = t_interval(values)
        summary[key] = {"values": [float(v) for v in values], "seeds": seeds, "n": len(values), "mean": mean, "std": std,
                        "ci95": [low, high]}
    return summary


def t_interval(values, level: float = 0.95) -> tuple[float, float, float, float]:
    """(mean, sample std, low, high): the two-sided ``level`` Student-t interval of the mean of
    ``values``, ``mean ± t((1+level)/2, n-1) · s / √n``; std and bounds are NaN for one value."""
    from scipy import stats

    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    if n == 0:
        raise ValueError("t_interval of no values")
    mean = float(x.mean())
    if n == 1:
        return mean, math.nan, math.nan, math.nan
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf((1 + level) / 2, n - 1) * std / math.sqrt(n))
    return mean, std, mean - half, mean + half


def statistics_table(summary: dict[str, dict]) -> str:
    def fmt(x: float) -> str:
        return "-" if math.isnan(x) else f"{x:.2f}"

    rows = [[key, e["n"], f"{fmt(e['mean'])} ± {fmt(e['std'])}", f"[{fmt(e['ci95'][0])}, {fmt(e['ci95'][1])}]",
             " ".join(fmt(v) for v in e["values"])] for key, e in summary.items()]
    return tabulate(rows, headers=["metric", "seeds", "mean ± std", "95 % t-interval", "per seed"], tablefmt="pipe",
                    disable_numparse=True)
