"""A checkpoint whose keys all differ from the model's by one prefix, said in one line.

The usual cause is the wrong config for the file: a baseline checkpoint loaded into PAENet (which holds
its baseline as ``base.``), or a PAENet checkpoint loaded into the baseline. Listing the 200 missing
and 200 unexpected keys hides that; naming the prefix and the model the file looks like does not.
"""
from __future__ import annotations

from typing import Iterable

import torch

from ..utils.errors import UserError

__all__ = ["CheckpointPrefixError", "find_key_prefix", "prefix_mismatch_message"]

_COVERAGE = 0.9  # share of the keys that must match through the prefix (a head may be extra or missing)
_PROBES = 8  # checkpoint keys tried as anchors for a candidate prefix


class CheckpointPrefixError(UserError):
    """No key of the checkpoint is a key of the model, but all are through one prefix."""


def _best_prefix(short: list[str], long: set[str]) -> str | None:
    """The prefix ``p`` (ending in '.') with ``p + k in long`` for most keys ``k`` of ``short``."""
    candidates: set[str] = set()
    for k in short[:_PROBES]:
        candidates |= {m[: len(m) - len(k)] for m in long if m.endswith("." + k)}
    best, best_hits = None, 0
    for p in sorted(candidates):
        hits = sum(p + k in long for k in short)
        if hits > best_hits:
            best, best_hits = p, hits
    return best if best is not None and best_hits >= _COVERAGE * len(short) else None


def find_key_prefix(model_keys: Iterable[str], file_keys: Iterable[str]) -> tuple[str, str] | None:
    """``("model", p)`` when the model's keys are the file's under ``p`` (the file is of a submodule),
    ``("file", p)`` when the file's keys are the model's under ``p`` (the file is of a larger model);
    None when some key matches as it is, or no single prefix explains the difference."""
    model, file = sorted(model_keys), sorted(file_keys)
    if not model or not file or set(model) & set(file):
        return None
    p = _best_prefix(file, set(model))
    if p:
        return "model", p
    p = _best_prefix(model, set(file))
    return ("file", p) if p else None


def prefix_mismatch_message(model: torch.nn.Module, file_keys: Iterable[str], path: str) -> str | None:
    """One line naming the prefix and the model the file looks like, or None."""
    file_keys = list(file_keys)
    found = find_key_prefix(model.state_dict().keys(), file_keys)
    if found is None:
        return None
    side, p = found
    name, part = type(model).__name__, p.rstrip(".")
    if side == "model":
        try:
            looks_like = type(model.get_submodule(part)).__name__
        except AttributeError:
            looks_like = f"the model's '{part}' part"
        return (f"'{path}' does not fit {name}: every key differs by the prefix '{p}' ({name} has '{p}<key>'): it "
                f"looks like a checkpoint of {looks_like}, the '{part}' part of {name}; load it with "
                f"MODEL.META_ARCHITECTURE {looks_like}.")
    return (f"'{path}' does not fit {name}: every key differs by the prefix '{p}' (the file has '{p}<key>'): it "
            f"looks like a checkpoint of a model that holds a {name} as '{part}' (as PAENet holds its base); load "
            f"it with that model's config.")
