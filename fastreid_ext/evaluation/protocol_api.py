"""Evaluation protocols as registered objects: what a dataset declares so it can be evaluated.

A protocol owns everything the evaluator, rank lists and pre-flight checks need to know about a
benchmark's test procedure, so a new dataset with its own protocol is one file of a plugin:

* its **tasks** (``task_names``): SYSU's ``<mode>-<shot>``, RegDB's and LLCM's directions;
* for each task, which records are **queries** and which the **gallery**, and how the per-trial
  subsets are **drawn** (seeded, reproducibly: :func:`draw_per_identity_camera`);
* its **camera rule** (:mod:`.camera_rules`) and whether Rank-k counts distinct identities;
* the **chance level** of each trial (``chance_rank1`` of the same galleries, in the results).

A dataset names its protocol by the registered name (``protocol = "sysu"``); the evaluator builds it
with :func:`build_protocol`. The loop that scores the tasks is :func:`.protocols.run_tasks`.
"""
from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from ..utils.errors import UserError
from ..utils.registry import Registry
from .camera_rules import CameraRule
from .types import FeatureSet

__all__ = ["PROTOCOL_REGISTRY", "EvaluationProtocol", "Task", "build_protocol", "group_by_identity_camera",
           "draw_per_identity_camera", "register_protocol"]

PROTOCOL_REGISTRY = Registry("PROTOCOL", builtins="fastreid_ext.evaluation")
PROTOCOL_REGISTRY.__doc__ = """Evaluation protocols, registered under the name datasets give in their ``protocol``
attribute; built by ``from_config(cfg)``."""


def register_protocol(cls):
    """Class decorator: register ``cls`` under its ``name`` (the string datasets declare)."""
    if not getattr(cls, "name", ""):
        raise TypeError(f"{cls.__name__} needs a non-empty class attribute 'name' to be registered as a protocol.")
    PROTOCOL_REGISTRY._do_register(cls.name, cls)
    return cls


@dataclass
class Task:
    """One search task: queries against galleries, over one or more trials.

    ``galleries`` / ``queries``: per trial, index arrays into ``gallery`` / ``query`` (``None``: the
    whole set in every trial, then there is one trial unless the other list has more)."""

    name: str
    query: FeatureSet
    gallery: FeatureSet
    galleries: list | None
    removal: CameraRule | None
    identity_cmc: bool
    info: dict
    queries: list | None = None

    @property
    def num_trials(self) -> int:
        return max(len(self.galleries or [None]), len(self.queries or [None]))

    def trial_indices(self, trial: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(query indices, gallery indices) of one trial; ``None``: the whole set."""
        q = None if self.queries is None else self.queries[trial]
        g = None if self.galleries is None else self.galleries[trial]
        return q, g


def group_by_identity_camera(pids, camids, paths) -> dict[tuple[int, int], list[int]]:
    """(pid, camid) → indices of its images, ordered by image path (the sorted file list)."""
    if not (len(pids) == len(camids) == len(paths)):
        raise ValueError(f"pids/camids/paths lengths differ: {len(pids)}, {len(camids)}, {len(paths)}.")
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, (pid, cam) in enumerate(zip(pids, camids)):
        groups[(int(pid), int(cam))].append(i)
    return {key: sorted(idx, key=lambda i: paths[i]) for key, idx in groups.items()}


def draw_per_identity_camera(groups: dict, cameras, trial: int, num_shots: int | None = None) -> np.ndarray:
    """The community trial draw (AGW/DDAG ``process_gallery_sysu``, LLCM ``process_gallery_llcm``):
    a ``random.Random(trial)`` stream, identities in ascending order, then ``cameras`` in the given
    order; per (identity, camera) with images, ``rng.choice`` of one image (``num_shots`` None) or
    ``rng.sample`` of up to ``num_shots``. Missing (identity, camera) pairs consume no draw."""
    rng = random.Random(trial)
    picked: list[int] = []
    for pid in sorted({pid for pid, _ in groups}):
        for cam in cameras:
            files = groups.get((pid, cam))
            if not files:
                continue
            if num_shots is None:
                picked.append(rng.choice(files))
            else:
                picked.extend(rng.sample(files, min(num_shots, len(files))))
    return np.asarray(picked, dtype=np.int64)


class EvaluationProtocol:
    """Base of the registered protocols. Subclasses set ``name`` and implement ``task_names`` and
    ``build_tasks``; ``from_config`` reads their options (a plugin adds its keys with
    ``fastreid_ext.config.register_config``)."""

    name: str = ""
    camera_rule: CameraRule | None = None
    identity_cmc: bool = False

    @classmethod
    def from_config(cls, cfg) -> "EvaluationProtocol":
        return cls()

    def task_names(self, quick: bool = False) -> list[str]:
        """The tasks a full (or quick, i.e. periodic) evaluation scores, in order; known before any data."""
        raise NotImplementedError(f"{type(self).__name__} must implement task_names(quick).")

    def build_tasks(self, query: FeatureSet, gallery: FeatureSet, quick: bool = False) -> list[Task]:
        """The tasks over the dataset's query and gallery sets (in ``task_names`` order)."""
        raise NotImplementedError(f"{type(self).__name__} must implement build_tasks(query, gallery, quick).")

    def describe(self) -> dict:
        """The protocol's options, for results.json."""
        return {}

    # ------------------------------------------------------------------ derived, shared by every protocol
    def check(self, dataset) -> None:
        """Before any work: the protocol has tasks, and the dataset has the sets it searches."""
        label = getattr(dataset, "name", type(dataset).__name__)
        if not self.task_names(False) or not self.task_names(True):
            raise UserError(f"{label}: protocol '{self.name}' declares no task (no direction or mode) for the "
                            f"test split; check its options (e.g. TEST.<PROTOCOL>.DIRECTIONS).")
        for split in ("query", "gallery"):
            if not getattr(dataset, split, None):
                raise UserError(f"{label}: the {split} split is empty; protocol '{self.name}' needs query and "
                                f"gallery images.")

    def tasks(self, query: FeatureSet, gallery: FeatureSet, quick: bool = False, dataset: str = "") -> list[Task]:
        """``build_tasks``, checked: every declared task is there and no trial searches an empty set."""
        tasks = self.build_tasks(query, gallery, quick)
        names = [t.name for t in tasks]
        if names != self.task_names(quick):
            raise RuntimeError(f"{type(self).__name__}.build_tasks returned tasks {names}, but task_names declares "
                               f"{self.task_names(quick)}.")
        for task in tasks:
            for t in range(task.num_trials):
                q_idx, g_idx = task.trial_indices(t)
                for role, idx, full in (("query", q_idx, task.query), ("gallery", g_idx, task.gallery)):
                    if (len(full) if idx is None else len(idx)) == 0:
                        raise UserError(f"{dataset or self.name}: task {task.name}, trial {t} has an empty {role} "
                                        f"(protocol '{self.name}').")
        return tasks

    def default_task(self) -> str:
        return self.task_names(False)[0]

    def pools(self, query: FeatureSet, gallery: FeatureSet, task_name: str, trial: int = 0):
        """(queries, gallery, camera rule) of one trial of one task: what rank lists and single-query
        tools search, with the same draw as the evaluator."""
        names = self.task_names(False)
        if task_name not in names:
            raise UserError(f"Protocol '{self.name}' has no task '{task_name}'; its tasks are {names}.")
        task = next(t for t in self.build_tasks(query, gallery, False) if t.name == task_name)
        if not 0 <= trial < task.num_trials:
            raise UserError(f"Task '{task_name}' of protocol '{self.name}' has trials 0..{task.num_trials - 1}, "
                            f"got {trial}.")
        q_idx, g_idx = task.trial_indices(trial)
        q = task.query if q_idx is None else task.query.subset(q_idx)
        g = task.gallery if g_idx is None else task.gallery.subset(g_idx)
        return q, g, task.removal


def build_protocol(cfg, dataset) -> EvaluationProtocol:
    """The protocol a dataset declares (``dataset.protocol``), built from the config and checked."""
    name = getattr(dataset, "protocol", "")
    label = getattr(dataset, "name", type(dataset).__name__)
    if not name or name not in PROTOCOL_REGISTRY.names():
        raise UserError(f"{label}: protocol '{name}' is not registered; registered protocols: "
                        f"{PROTOCOL_REGISTRY.names()} (a plugin registers its own with @register_protocol and is "
                        f"named in IMPORTS).")
    protocol = PROTOCOL_REGISTRY.build(name, cfg)
    protocol.check(dataset)
    return protocol
