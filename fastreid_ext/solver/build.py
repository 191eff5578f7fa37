"""``build_optimizer``: parameter groups from ``SOLVER.LR_MULTIPLIERS`` merged by identical hyper-parameters.

One group per distinct (lr, weight_decay) instead of one per parameter (detectron2's
``reduce_param_groups``), so optimizer state stays small and the groups read well in logs.
``SOLVER.CLIP_GRADIENTS`` wraps the optimizer's step (see :mod:`.gradient_clipping`).
"""
from __future__ import annotations

import logging
import re
from collections import defaultdict
from typing import Any

import torch

from .gradient_clipping import maybe_add_gradient_clipping

__all__ = ["build_optimizer", "get_param_groups", "reduce_param_groups"]

_OPTIMIZERS = {"SGD": torch.optim.SGD, "Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW}


def _parse_multipliers(pairs) -> list[tuple[re.Pattern, float]]:
    out = []
    for pair in pairs:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(f"SOLVER.LR_MULTIPLIERS entries must be [regex, factor] pairs, got {pair!r}.")
        try:
            out.append((re.compile(str(pair[0])), float(pair[1])))
        except re.error as e:
            raise ValueError(f"SOLVER.LR_MULTIPLIERS: invalid regex {pair[0]!r}: {e}") from None
    return out


def get_param_groups(model: torch.nn.Module, base_lr: float, weight_decay: float,
                     lr_multipliers=()) -> list[dict[str, Any]]:
    """One dict per trainable parameter (first matching regex gives its lr factor), then merged."""
    rules = _parse_multipliers(lr_multipliers)
    groups, seen = [], set()
    for name, p in model.named_parameters():
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        factor = next((f for rx, f in rules if rx.search(name)), 1.0)
        groups.append({"params": [p], "lr": base_lr * factor, "weight_decay": weight_decay,
                       "lr_factor": factor, "param_names": [name]})
    return reduce_param_groups(groups)


def reduce_param_groups(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge groups whose hyper-parameters (every key except params/param_names) are identical."""
    merged: dict[tuple, dict[str, Any]] = {}
    for g in groups:
        key = tuple(sorted((k, v) for k, v in g.items() if k not in ("params", "param_names")))
        cur = merged.setdefault(key, {**{k: v for k, v in g.items()}, "params": [], "param_names": []})
        cur["params"] += g["params"]
        cur["param_names"] += g.get("param_names", [])
    return list(merged.values())


def build_optimizer(cfg, model: torch.nn.Module) -> torch.optim.Optimizer:
    s = cfg.SOLVER
    if s.OPTIMIZER not in _OPTIMIZERS:
        from ..config.value_checks import did_you_mean
        from ..utils.errors import UserError

        raise UserError(f"SOLVER.OPTIMIZER is '{s.OPTIMIZER}'; expected one of {sorted(_OPTIMIZERS)}"
                        f"{did_you_mean(s.OPTIMIZER, _OPTIMIZERS)}.")
    groups = get_param_groups(model, s.BASE_LR, s.WEIGHT_DECAY, s.LR_MULTIPLIERS)
    if not groups:
        raise ValueError(f"Model {type(model).__name__} has no trainable parameters.")
    for g in groups:
        logging.getLogger(__name__).debug("param group lr=%g (x%g): %d tensors", g["lr"], g["lr_factor"], len(g["params"]))
        g.pop("param_names")
    if s.OPTIMIZER == "SGD":
        opt = torch.optim.SGD(groups, lr=s.BASE_LR, momentum=s.MOMENTUM, nesterov=s.NESTEROV and s.MOMENTUM > 0,
                              weight_decay=s.WEIGHT_DECAY)
    else:
        opt = _OPTIMIZERS[s.OPTIMIZER](groups, lr=s.BASE_LR, weight_decay=s.WEIGHT_DECAY)
    return maybe_add_gradient_clipping(cfg, opt)
