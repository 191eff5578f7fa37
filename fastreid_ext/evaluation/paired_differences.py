"""Differences between two models trained with the same seeds, with a 95 % paired t-interval.

Two rows of a benchmark that share a seed share its data order and initialisation draws, so the
per-seed difference ``b[seed] - a[seed]`` removes what the seed does to both; the interval of its
mean (Student's t, n - 1 degrees of freedom, :func:`seed_statistics.t_interval`) is the uncertainty
of the comparison. The reading rule every benchmark sentence follows: "no detectable difference" when
the interval covers 0, "gain" (b above a) or "loss" otherwise, "too few seeds" under two pairs.
A table of several comparisons also gives each one's paired t-test p-value and Holm's step-down
adjustment of them over the table's comparisons of the same metric, so a reader can see which
readings survive the number of comparisons made (the intervals themselves are not corrected).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from tabulate import tabulate

from .seed_statistics import t_interval

__all__ = ["PairedDifference", "paired_difference", "reading", "holm", "paired_table"]

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

    @property
    def p_value(self) -> float:
        """Two-sided paired t-test of ``mean == 0`` (the test the interval inverts: p < 1 - level
        exactly when the interval excludes 0); NaN under two pairs."""
        n = len(self.differences)
        if n < 2:
            return math.nan
        if self.std == 0:
            return 1.0 if self.mean == 0 else 0.0
        from scipy import stats

        return float(2 * stats.t.sf(abs(self.mean) / (self.std / math.sqrt(n)), n - 1))


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


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of ``p_values`` (same order; NaN stays NaN and is not counted):
    the k-th smallest of m becomes max over j <= k of min(1, (m - j + 1) · p_(j)). Controls the
    chance of any false "gain"/"loss" among the m at the nominal level, without assuming independence."""
    idx = sorted((i for i, p in enumerate(p_values) if not math.isnan(p)), key=lambda i: p_values[i])
    out = [math.nan] * len(p_values)
    running = 0.0
    for rank, i in enumerate(idx):
        running = max(running, min(1.0, (len(idx) - rank) * p_values[i]))
        out[i] = running
    return out


def paired_table(rows: list[tuple[str, str, PairedDifference]]) -> str:
    """``(comparison, metric, difference)`` rows → a markdown table with the per-seed differences,
    the mean, the interval and its reading, the paired t-test p and its Holm adjustment over the
    table's rows of the same metric."""
    def f(x: float) -> str:
        return "–" if math.isnan(x) else f"{x:+.2f}"

    def fp(x: float) -> str:
        return "–" if math.isnan(x) else "<0.001" if x < 0.001 else f"{x:.3f}"

    p = [d.p_value for _, _, d in rows]
    adjusted = [math.nan] * len(rows)
    for metric in {m for _, m, _ in rows}:
        at = [i for i, (_, m, _) in enumerate(rows) if m == metric]
        for i, q in zip(at, holm([p[i] for i in at])):
            adjusted[i] = q
    lines = [[name, metric, " ".join(str(s) for s in d.seeds), " ".join(f(x) for x in d.differences), f(d.mean),
              f"[{f(d.low)}, {f(d.high)}]", d.reading, fp(p[i]), fp(adjusted[i])]
             for i, (name, metric, d) in enumerate(rows)]
    return tabulate(lines, headers=["comparison (b − a)", "metric", "seeds", "per-seed b − a", "mean",
                                    "95 % paired t-interval", "reading", "p (paired t)", "Holm p (same metric)"],
                    tablefmt="pipe", disable_numparse=True)
