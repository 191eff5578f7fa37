"""The RegDB protocol (docs/protocols.md, "RegDB protocol"): one train/test split (``DATASETS.REGDB.TRIAL``),
visible→infrared (the dataset's query set, the visible test images, against the thermal ones) and the
reverse, each over the whole test set, standard CMC, no camera rule."""
from __future__ import annotations

import numpy as np

from .protocol_api import EvaluationProtocol, Task, register_protocol
from .types import FeatureSet

__all__ = ["RegDBProtocol", "REGDB_DIRECTIONS", "regdb_tasks"]

REGDB_DIRECTIONS = ("visible2infrared", "infrared2visible")


def regdb_tasks(visible: FeatureSet, infrared: FeatureSet, directions, trial: int) -> list[Task]:
    """Visible→infrared (visible queries, thermal gallery) and/or the reverse, standard CMC."""
    tasks = []
    for direction in directions:
        if direction not in REGDB_DIRECTIONS:
            raise ValueError(f"Unknown RegDB direction '{direction}'; expected one of {REGDB_DIRECTIONS} (TEST.REGDB.DIRECTIONS).")
        q, g = (visible, infrared) if direction == "visible2infrared" else (infrared, visible)
        info = {"protocol": RegDBProtocol.name, "direction": direction, "split_trial": trial, "num_trials": 1,
                "seeds": [], "num_query": len(q), "gallery_sizes": [len(g)], "cmc": "image",
                "gallery_ids": [int(len(np.unique(g.pids)))]}
        tasks.append(Task(direction, q, g, None, None, False, info))
    return tasks


@register_protocol
class RegDBProtocol(EvaluationProtocol):
    """``TEST.REGDB.DIRECTIONS`` (the quick, periodic evaluation scores the first only) of the split
    trial ``DATASETS.REGDB.TRIAL``, which the results name."""

    name = "regdb"

    def __init__(self, directions=REGDB_DIRECTIONS, split_trial: int = 1):
        bad = [d for d in directions if d not in REGDB_DIRECTIONS]
        if bad:
            raise ValueError(f"Unknown RegDB direction {bad}; expected some of {REGDB_DIRECTIONS} (TEST.REGDB.DIRECTIONS).")
        self.directions, self.split_trial = list(directions), int(split_trial)

    @classmethod
    def from_config(cls, cfg) -> "RegDBProtocol":
        return cls(cfg.TEST.REGDB.DIRECTIONS, cfg.DATASETS.REGDB.TRIAL)

    def task_names(self, quick: bool = False) -> list[str]:
        return self.directions[:1] if quick else list(self.directions)

    def build_tasks(self, query: FeatureSet, gallery: FeatureSet, quick: bool = False) -> list[Task]:
        return regdb_tasks(query, gallery, self.task_names(quick), self.split_trial)

    def describe(self) -> dict:
        return {"directions": self.directions, "split_trial": self.split_trial}
