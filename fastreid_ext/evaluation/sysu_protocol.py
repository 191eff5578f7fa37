"""The SYSU-MM01 protocol (docs/protocols.md, "SYSU-MM01 protocol"): infrared queries (cameras 3
and 6) against visible galleries drawn per trial from the gallery set, in all-search (cameras 1, 2,
4, 5) and indoor-search (cameras 1, 2) modes, single-shot or multi-shot.

The draw reproduces the AGW / MMD-ReID ``process_gallery_sysu`` exactly
(:func:`.protocol_api.draw_per_identity_camera`): trial t uses its own ``random.Random(t)``, loops over
the test ids in ascending order, then over the mode's cameras in the order above; single-shot takes
``rng.choice(files)``, multi-shot ``rng.sample(files, min(num_shots, len(files)))`` (the reference
multi-shot code path is broken; docs/protocols.md). Queries of camera 3 ignore gallery camera 2.
"""
from __future__ import annotations

import numpy as np

from .camera_rules import CameraPairRule
from .protocol_api import EvaluationProtocol, Task, draw_per_identity_camera, group_by_identity_camera, register_protocol
from .types import FeatureSet

__all__ = ["SYSUProtocol", "SYSU_GALLERY_CAMS", "SYSU_SHOTS", "SYSU_REMOVAL", "draw_sysu_gallery", "group_gallery_images",
           "sysu_tasks"]

SYSU_GALLERY_CAMS = {"all": (1, 2, 4, 5), "indoor": (1, 2)}
SYSU_SHOTS = ("single", "multi")
# queries of camera 3 ignore every gallery item of camera 2 (the same room)
SYSU_REMOVAL = CameraPairRule(3, 2)
group_gallery_images = group_by_identity_camera  # the name the SYSU code and tests have always used


def draw_sysu_gallery(groups: dict, mode: str, shot: str, trial: int, num_shots: int = 10) -> np.ndarray:
    """Gallery-set indices of the gallery of one trial (in draw order)."""
    if mode not in SYSU_GALLERY_CAMS:
        raise ValueError(f"Unknown SYSU mode '{mode}'; expected one of {sorted(SYSU_GALLERY_CAMS)} (TEST.SYSU.MODES).")
    if shot not in SYSU_SHOTS:
        raise ValueError(f"Unknown SYSU shot '{shot}'; expected one of {SYSU_SHOTS} (TEST.SYSU.SHOTS).")
    if shot == "multi" and num_shots < 1:
        raise ValueError(f"TEST.SYSU.MULTI_SHOT_IMAGES must be >= 1, got {num_shots}.")
    picked = draw_per_identity_camera(groups, SYSU_GALLERY_CAMS[mode], trial, None if shot == "single" else num_shots)
    if not len(picked):
        raise ValueError(f"The SYSU gallery set has no image of cameras {SYSU_GALLERY_CAMS[mode]} ({mode}-search).")
    return picked


def sysu_tasks(query: FeatureSet, gallery: FeatureSet, modes, shots, num_trials: int, num_shots: int,
               cmc: str = "identity") -> list[Task]:
    """The (mode, shot) tasks of SYSU-MM01, ``num_trials`` trial galleries each, drawn from ``gallery``."""
    if cmc not in ("identity", "image"):
        raise ValueError(f"TEST.SYSU.CMC must be 'identity' or 'image', got '{cmc}'.")
    if num_trials < 1:
        raise ValueError(f"SYSU needs at least one trial, got {num_trials}.")
    groups = group_by_identity_camera(gallery.pids, gallery.camids, gallery.paths)
    tasks = []
    for mode in modes:
        for shot in shots:
            galleries = [draw_sysu_gallery(groups, mode, shot, t, num_shots) for t in range(num_trials)]
            info = {"protocol": SYSUProtocol.name, "mode": mode, "shot": shot, "num_trials": num_trials,
                    "seeds": list(range(num_trials)), "gallery_sizes": [int(len(idx)) for idx in galleries],
                    "num_query": len(query), "cmc": cmc, "multi_shot_images": num_shots if shot == "multi" else 1,
                    "gallery_ids": [int(len(np.unique(gallery.pids[idx]))) for idx in galleries]}  # chance Rank-1
            tasks.append(Task(f"{mode}-{shot}", query, gallery, galleries, SYSU_REMOVAL, cmc == "identity", info))
    return tasks


@register_protocol
class SYSUProtocol(EvaluationProtocol):
    """``TEST.SYSU.*``: modes, shots, trials (``TRAIN_EVAL_TRIALS`` for the quick, periodic
    evaluation, which scores all-single only), multi-shot images, and the CMC kind."""

    name = "sysu"
    camera_rule = SYSU_REMOVAL

    def __init__(self, modes=("all", "indoor"), shots=("single", "multi"), num_trials: int = 10, quick_trials: int = 1,
                 num_shots: int = 10, cmc: str = "identity"):
        bad = [m for m in modes if m not in SYSU_GALLERY_CAMS] + [s for s in shots if s not in SYSU_SHOTS]
        if bad:
            raise ValueError(f"TEST.SYSU.MODES/SHOTS: {bad} unknown; modes are {sorted(SYSU_GALLERY_CAMS)}, shots {SYSU_SHOTS}.")
        self.modes, self.shots = list(modes), list(shots)
        self.num_trials, self.quick_trials, self.num_shots, self.cmc = int(num_trials), int(quick_trials), int(num_shots), cmc
        self.identity_cmc = cmc == "identity"

    @classmethod
    def from_config(cls, cfg) -> "SYSUProtocol":
        s = cfg.TEST.SYSU
        return cls(s.MODES, s.SHOTS, s.NUM_TRIALS, s.TRAIN_EVAL_TRIALS, s.MULTI_SHOT_IMAGES, s.CMC)

    def _settings(self, quick: bool):
        trials = self.quick_trials if quick and self.quick_trials > 0 else self.num_trials
        modes, shots = (["all"], ["single"]) if quick else (self.modes, self.shots)
        return modes, shots, trials

    def task_names(self, quick: bool = False) -> list[str]:
        modes, shots, _ = self._settings(quick)
        return [f"{m}-{s}" for m in modes for s in shots]

    def build_tasks(self, query: FeatureSet, gallery: FeatureSet, quick: bool = False) -> list[Task]:
        modes, shots, trials = self._settings(quick)
        return sysu_tasks(query, gallery, modes, shots, trials, self.num_shots, self.cmc)

    def describe(self) -> dict:
        return {"modes": self.modes, "shots": self.shots, "num_trials": self.num_trials, "cmc": self.cmc,
                "multi_shot_images": self.num_shots}
