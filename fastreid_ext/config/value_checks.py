"""Range checks of config values that a type check cannot catch, run when a config is loaded.

A value out of range (``DATALOADER.IDS_PER_BATCH 0``, ``SOLVER.MAX_EPOCH -3``) would otherwise surface
as a traceback deep in the sampler or the scheduler, or as a run that trains nothing. Each check raises
a :class:`ConfigError` (one line, exit code 2) naming the key, the value and what was expected. Names
(optimizer, device) are checked where they are resolved (``solver.build``, ``utils.device``).
"""
from __future__ import annotations

import difflib

__all__ = ["check_config_values", "did_you_mean"]

# key -> (lowest allowed value, what the number means)
_AT_LEAST = {
    "DATALOADER.IDS_PER_BATCH": (1, "identities per batch (P)"),
    "DATALOADER.NUM_INSTANCES": (1, "images per identity and modality (K)"),
    "DATALOADER.NUM_WORKERS": (0, "loader worker processes"),
    "DATALOADER.ITERS_PER_EPOCH": (0, "iterations per epoch (0: from the data)"),
    "SOLVER.MAX_EPOCH": (0, "epochs"),
    "SOLVER.WARMUP_EPOCHS": (0, "warm-up epochs"),
    "SOLVER.CHECKPOINT_PERIOD": (0, "epochs between checkpoints"),
    "SOLVER.LOG_PERIOD": (1, "iterations between log lines"),
    "TEST.IMS_PER_BATCH": (1, "test images per batch"),
    "TEST.EVAL_PERIOD": (0, "epochs between evaluations (0: only at the end)"),
    "TEST.MAX_RANK": (1, "ranks of the CMC curve"),
}
_POSITIVE = {"SOLVER.BASE_LR": "the learning rate"}


def did_you_mean(value: str, choices) -> str:
    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _get(cfg, dotted: str):
    node = cfg
    for part in dotted.split("."):
        if part not in node:
            return None
        node = node[part]
    return node


def check_config_values(cfg) -> None:
    from .config import ConfigError

    for key, (low, what) in _AT_LEAST.items():
        value = _get(cfg, key)
        if value is not None and not isinstance(value, bool) and value < low:
            raise ConfigError(f"{key} is {value}; expected {what} >= {low}.")
    for key, what in _POSITIVE.items():
        value = _get(cfg, key)
        if value is not None and not value > 0:
            raise ConfigError(f"{key} is {value}; expected {what} > 0.")
