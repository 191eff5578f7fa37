"""Differences between two models trained with the same seeds, with a 95 % paired t-interval.

Two rows of a benchmark that share a seed share its data order and initialisation draws, so the
per-seed difference ``b[seed] - a[seed]`` removes what the seed does to both; the interval of its
mean (Student's t, n - 1 degrees of freedom, :func:`seed_statistics.t_interval`) is the uncertainty
of the comparison. The reading rule every benchmark sentence follows: "no detectable difference" when
the interval covers 0, "gain" (b above a) or "loss" otherwise, "too few seeds" under two pairs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from tabulate import tabulate

from .seed_statistics import t_interval

__all__ = ["PairedDifference", "paired_difference", "reading", "paired_table"]

NO_DIFFERENCE = "no detectable difference"


@dataclass(frozen=True)
class PairedDifference:
    seeds: tuple[int, ...]
    differences: tuple[float, ...]  # b - a per seed, in seed order
    mean: float
    std: float
    low: float
    high: float
    level: float = 0.95

    @property
    def reading(self) -> str:
        return reading(self.low, self.high)


def reading(low: float, high: float) -> str:
    """The sentence an interval allows: gain / loss only when it excludes 0."""
    if math.isnan(low) or math.isnan(high):
        return "too few seeds"
    if low > 0:
        return "gain"
    if high < 0:
        return "loss"
    return NO_DIFFERENCE


def paired_difference(a: dict[int, float], b: dict[int, float], level: float = 0.95) -> PairedDifference:
    """``b - a`` over the seeds both have (``{seed: value}``), with its ``level`` paired t-interval.
    Seeds only one side has are left out (the pairing is by seed)."""
    seeds = tuple(sorted(set(a) & set(b)))
    if not seeds:
        raise ValueError(f"no common seed: {sorted(a)} vs {sorted(b)}")
    diffs = tuple(float(b[s]) - float(a[s]) for s in seeds)
    mean, std, low, high = t_interval(diffs, level)
    return PairedDifference(seeds, diffs, mean, std, low, high, level)


def paired_table(rows: list[tuple[str, str, PairedDifference]]) -> str:
    """``(comparison, metric, difference)`` rows → a markdown table with the per-seed differences,
    the mean, the interval and its reading."""
    def f(x: float) -> str:
        return "–" if math.isnan(x) else f"{x:+.2f}"

    lines = [[name, metric, " ".join(str(s) for s in d.seeds), " ".join(f(x) for x in d.differences), f(d.mean),
              f"[{f(d.low)}, {f(d.high)}]", d.reading] for name, metric, d in rows]
    return tabulate(lines, headers=["comparison (b − a)", "metric", "seeds", "per-seed b − a", "mean",
                                    "95 % paired t-interval", "reading"], tablefmt="pipe", disable_numparse=True)
