"""The one type that builds and parses result keys.

Every evaluation figure is addressed by a key ``<dataset>/<task>/[<source>/]<feature>/<metric>[-std]``:

* ``dataset``: the evaluated dataset (``SYSU_MM01``), ``task``: a protocol task (``all-single``,
  ``visible2infrared``) or ``attributes`` (attribute recognition);
* ``source``: the test-time input source of models that take one (``predicted``, ``gt``...), else absent;
* ``feature``: the model output with its test-time label (``FC``, ``FC+flip+rerank``), absent for
  attribute figures;
* ``metric``: ``Rank-k``, ``mAP``, ``mINP``, ``chance``; for attributes ``mA``, ``mAcc``, ``acc/<name>``;
* ``statistic``: ``mean`` over trials, or ``std`` (the ``-std`` suffix).

Evaluators return ``{"<dataset>/<task>": {"[<source>/]<feature>/<metric>[-std]": value}}`` (the task
key and the within-task key of the same :class:`ResultKey`), and declare before training which keys
they will emit (``result_keys``), so a key named in a config is checked by membership.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from ..utils.errors import UserError

__all__ = ["ResultKey", "ATTRIBUTES_TASK", "STD_SUFFIX", "KEY_SHAPE", "iter_results", "flatten_results"]

ATTRIBUTES_TASK = "attributes"
STD_SUFFIX = "-std"
KEY_SHAPE = "'<dataset>/<task>/[<attribute source>/]<feature>/<metric>[-std]', e.g. 'SYSU_MM01/all-single/FC/Rank-1'"


@dataclass(frozen=True)
class ResultKey:
    dataset: str
    task: str
    feature: str
    metric: str
    source: str = ""
    statistic: str = "mean"  # "mean" | "std"

    def __post_init__(self):
        if self.statistic not in ("mean", "std"):
            raise ValueError(f"ResultKey statistic must be 'mean' or 'std', got {self.statistic!r}.")
        metric = self.metric[len("acc/"):] if self.task == ATTRIBUTES_TASK and self.metric.startswith("acc/") else self.metric
        for name, value in (("dataset", self.dataset), ("task", self.task), ("metric", metric),
                            ("feature", self.feature or "-"), ("source", self.source or "-")):
            if not value or "/" in value:
                raise ValueError(f"ResultKey {name} {value!r} must be non-empty and hold no '/'.")
        if not self.feature and not self.is_attribute:
            raise ValueError(f"ResultKey of task {self.task!r} needs a feature.")

    # ------------------------------------------------------------------ views
    @property
    def is_attribute(self) -> bool:
        return self.task == ATTRIBUTES_TASK

    @property
    def task_key(self) -> str:
        """``<dataset>/<task>``: the outer key of an evaluator's results."""
        return f"{self.dataset}/{self.task}"

    @property
    def prefix(self) -> str:
        """``[<source>/]<feature>``: one row of a results table."""
        return "/".join(p for p in (self.source, self.feature) if p)

    @property
    def metric_key(self) -> str:
        """The within-task key: ``[<source>/]<feature>/<metric>[-std]``."""
        suffix = STD_SUFFIX if self.statistic == "std" else ""
        return "/".join(p for p in (self.source, self.feature, self.metric + suffix) if p)

    @property
    def base_feature(self) -> str:
        """The model output without its test-time label (``FC+flip`` → ``FC``)."""
        return self.feature.split("+", 1)[0]

    @property
    def test_time(self) -> tuple[str, ...]:
        """The test-time options of the feature label, in order (``FC+flip+rerank`` → ("flip", "rerank"))."""
        return tuple(self.feature.split("+")[1:]) if self.feature else ()

    def with_statistic(self, statistic: str) -> "ResultKey":
        return ResultKey(self.dataset, self.task, self.feature, self.metric, self.source, statistic)

    def __str__(self) -> str:
        return f"{self.task_key}/{self.metric_key}"

    # ------------------------------------------------------------------ parsing
    @classmethod
    def from_parts(cls, task_key: str, metric_key: str) -> "ResultKey":
        """From an evaluator's ``{task_key: {metric_key: value}}`` entry."""
        dataset, sep, task = task_key.partition("/")
        if not sep or not dataset or not task or "/" in task:
            raise ValueError(f"'{task_key}' is not '<dataset>/<task>'.")
        statistic = "mean"
        if metric_key.endswith(STD_SUFFIX):
            metric_key, statistic = metric_key[: -len(STD_SUFFIX)], "std"
        parts = metric_key.split("/")
        if any(not p for p in parts):
            raise ValueError(f"'{metric_key}' has an empty part.")
        if task == ATTRIBUTES_TASK:  # [source/]mA, [source/]mAcc, [source/]acc/<name>
            n = 2 if len(parts) >= 2 and parts[-2] == "acc" else 1
            head, metric = parts[:-n], "/".join(parts[-n:])
            if len(head) > 1:
                raise ValueError(f"'{metric_key}' has too many parts for an attribute figure.")
            return cls(dataset, task, "", metric, head[0] if head else "", statistic)
        if len(parts) not in (2, 3):
            raise ValueError(f"'{metric_key}' is not '[<source>/]<feature>/<metric>'.")
        source = parts[0] if len(parts) == 3 else ""
        return cls(dataset, task, parts[-2], parts[-1], source, statistic)

    @classmethod
    def parse(cls, text: str, what: str = "result key") -> "ResultKey":
        """The key of a flattened string; a malformed one is a UserError naming ``what`` and the shape."""
        parts = str(text).split("/")
        try:
            if len(parts) < 3:
                raise ValueError("too few parts")
            return cls.from_parts("/".join(parts[:2]), "/".join(parts[2:]))
        except ValueError as e:
            raise UserError(f"{what} '{text}' is not a result key ({e}); expected {KEY_SHAPE}.") from None

    @classmethod
    def try_parse(cls, text: str) -> "ResultKey | None":
        try:
            return cls.parse(text)
        except UserError:
            return None


def iter_results(results: dict) -> Iterator[tuple[ResultKey, float]]:
    """(key, value) of an evaluator's nested results; entries that are no result key are skipped."""
    for task_key, metrics in results.items():
        if not isinstance(metrics, dict):
            continue
        for metric_key, value in metrics.items():
            try:
                yield ResultKey.from_parts(task_key, metric_key), value
            except ValueError:
                continue


def flatten_results(results: dict, prefix: str = "") -> dict[str, float]:
    """``{task: {metric: v}}`` (any depth) → ``{"task/metric": v}``: what the event storage holds; numeric
    leaves only (a results.json section may hold flags or names beside the figures)."""
    flat: dict[str, float] = {}
    for k, v in results.items():
        key = f"{prefix}/{k}" if prefix else str(k)
        if isinstance(v, dict):
            flat.update(flatten_results(v, key))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            flat[key] = float(v)
    return flat


def key_list(keys: Iterable[ResultKey]) -> list[str]:
    """Sorted unique strings of ``keys``."""
    return sorted({str(k) for k in keys})
