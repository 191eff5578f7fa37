"""Gradient clipping inside ``optimizer.step`` (``SOLVER.CLIP_GRADIENTS``, fast-reid/detectron2 keys).

Clipping in the optimizer's own ``step`` rather than in the loop means it sees the unscaled gradients
under AMP (``GradScaler.step`` unscales before calling ``step``) and it adds no state: the optimizer's
``state_dict`` is unchanged, so checkpoints and ``--resume`` are as without clipping.
"""
from __future__ import annotations

from typing import Callable, Iterable

import torch

__all__ = ["CLIP_TYPES", "gradient_clipper", "maybe_add_gradient_clipping"]

CLIP_TYPES = ("norm", "value")


def gradient_clipper(clip_type: str, clip_value: float,
                     norm_type: float = 2.0) -> Callable[[Iterable[torch.Tensor]], None]:
    """A function clipping the ``.grad`` of the given parameters in place."""
    if clip_type not in CLIP_TYPES:
        raise ValueError(f"SOLVER.CLIP_GRADIENTS.CLIP_TYPE is '{clip_type}'; expected one of {CLIP_TYPES}.")
    if not clip_value > 0:
        raise ValueError(f"SOLVER.CLIP_GRADIENTS.CLIP_VALUE must be > 0, got {clip_value}.")
    if clip_type == "norm":
        return lambda params: torch.nn.utils.clip_grad_norm_(params, float(clip_value), float(norm_type))
    return lambda params: torch.nn.utils.clip_grad_value_(params, float(clip_value))


def maybe_add_gradient_clipping(cfg, optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """``optimizer`` itself, whose ``step`` first clips every group's gradients when enabled (the
    norm is over all parameters together, as one ``clip_grad_norm_`` call)."""
    c = cfg.SOLVER.CLIP_GRADIENTS
    if not c.ENABLED:
        return optimizer
    clip = gradient_clipper(c.CLIP_TYPE, c.CLIP_VALUE, c.NORM_TYPE)
    base = type(optimizer)

    def step(self, closure=None):
        clip([p for g in self.param_groups for p in g["params"] if p.grad is not None])
        return base.step(self, closure)

    optimizer.__class__ = type(f"{base.__name__}WithGradientClip", (base,), {"step": step})
    return optimizer
