"""The LLCM protocol as the public code evaluates it (``ZYK100/LLCM``, ``DEEN/test.py`` with
``data_manager.py`` and ``eval_llcm``), registered as ``llcm``.

The test set is every image of the test identities: the dataset's ``query`` set holds the infrared
ones (``test_nir``), its ``gallery`` set the visible ones (``test_vis``). A trial t draws one image per
(identity, camera) of one modality with ``random.seed(t)`` (identities ascending, cameras ascending,
files sorted: :func:`~fastreid_ext.evaluation.protocol_api.draw_per_identity_camera`), 10 trials:

* ``infrared2visible`` (the public ``test_mode [1, 2]``): every infrared image queries the drawn
  visible images;
* ``visible2infrared`` (the public ``test_mode [2, 1]``): the public script draws the *infrared* side
  and scores ``eval_llcm`` on the transposed matrix, so its queries are the drawn infrared images and
  its gallery is every visible image. This is reproduced literally, so numbers compare with papers
  that ran that script (projects/LLCM/README.md).

Camera rule: a query's identity does not count in the gallery images of the query's own camera
(``SameCameraRule``; LLCM cameras record both modalities, so camera k is one place). Rank-k counts
distinct identities (the author CMC ``eval_llcm`` returns).
"""
from __future__ import annotations

import numpy as np

from fastreid_ext.evaluation import EvaluationProtocol, SameCameraRule, Task, register_protocol
from fastreid_ext.evaluation.protocol_api import draw_per_identity_camera, group_by_identity_camera
from fastreid_ext.evaluation.types import FeatureSet

__all__ = ["LLCMProtocol", "LLCM_DIRECTIONS"]

LLCM_DIRECTIONS = ("infrared2visible", "visible2infrared")


def _draws(fs: FeatureSet, num_trials: int) -> list[np.ndarray]:
    groups = group_by_identity_camera(fs.pids, fs.camids, fs.paths)
    cameras = sorted({cam for _, cam in groups})
    return [draw_per_identity_camera(groups, cameras, t) for t in range(num_trials)]


@register_protocol
class LLCMProtocol(EvaluationProtocol):
    """``TEST.LLCM.DIRECTIONS``, ``NUM_TRIALS`` (quick, periodic evaluation: the first direction,
    ``TRAIN_EVAL_TRIALS`` trials)."""

    name = "llcm"
    camera_rule = SameCameraRule()
    identity_cmc = True

    def __init__(self, directions=LLCM_DIRECTIONS, num_trials: int = 10, quick_trials: int = 1):
        bad = [d for d in directions if d not in LLCM_DIRECTIONS]
        if bad:
            raise ValueError(f"TEST.LLCM.DIRECTIONS: {bad} unknown; expected some of {LLCM_DIRECTIONS}.")
        if int(num_trials) < 1:
            raise ValueError(f"TEST.LLCM.NUM_TRIALS must be >= 1, got {num_trials}.")
        self.directions, self.num_trials, self.quick_trials = list(directions), int(num_trials), int(quick_trials)

    @classmethod
    def from_config(cls, cfg) -> "LLCMProtocol":
        t = cfg.TEST.LLCM
        return cls(t.DIRECTIONS, t.NUM_TRIALS, t.TRAIN_EVAL_TRIALS)

    def task_names(self, quick: bool = False) -> list[str]:
        return self.directions[:1] if quick else list(self.directions)

    def build_tasks(self, query: FeatureSet, gallery: FeatureSet, quick: bool = False) -> list[Task]:
        trials = self.quick_trials if quick and self.quick_trials > 0 else self.num_trials
        tasks = []
        for direction in self.task_names(quick):
            if direction == "infrared2visible":
                draws = _draws(gallery, trials)
                task = Task(direction, query, gallery, draws, self.camera_rule, True, {}, None)
                sizes = {"num_query": len(query), "gallery_sizes": [len(d) for d in draws],
                         "gallery_ids": [int(len(np.unique(gallery.pids[d]))) for d in draws]}
            else:
                draws = _draws(query, trials)
                task = Task(direction, query, gallery, None, self.camera_rule, True, {}, draws)
                sizes = {"num_query": [len(d) for d in draws], "gallery_sizes": [len(gallery)] * trials,
                         "gallery_ids": [int(len(np.unique(gallery.pids)))] * trials}
            task.info = {"protocol": self.name, "direction": direction, "num_trials": trials,
                         "seeds": list(range(trials)), "cmc": "identity", **sizes}
            tasks.append(task)
        return tasks

    def describe(self) -> dict:
        return {"directions": self.directions, "num_trials": self.num_trials}
