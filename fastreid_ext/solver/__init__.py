"""Optimizers and learning-rate schedules."""
from .build import build_optimizer, get_param_groups, reduce_param_groups
from .gradient_clipping import gradient_clipper, maybe_add_gradient_clipping
from .lr_scheduler import LRMultiplier, build_lr_scheduler, build_param_scheduler

__all__ = ["LRMultiplier", "build_lr_scheduler", "build_optimizer", "build_param_scheduler", "get_param_groups",
           "gradient_clipper", "maybe_add_gradient_clipping", "reduce_param_groups"]
