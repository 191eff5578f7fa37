"""Engine: iteration trainer with epoch boundaries, hooks, launch, command line.

Only light modules are imported here; data/modeling/evaluation are imported when a trainer is built.
"""
from .defaults import DefaultTrainer, create_ddp_model, default_setup
from .hook_registry import HOOK_REGISTRY, build_user_hooks
from .hooks import (BestCheckpointer, EvalHook, IterationTimer, LRScheduler, NonFiniteLossGuard,
                    PeriodicCheckpointer, PeriodicWriter)
from .launch import launch
from .precise_bn import PreciseBN
from .train_loop import HookBase, SimpleTrainer, TrainerBase

__all__ = ["BestCheckpointer", "DefaultTrainer", "EvalHook", "HOOK_REGISTRY", "HookBase", "IterationTimer",
           "LRScheduler", "NonFiniteLossGuard", "PeriodicCheckpointer", "PeriodicWriter", "PreciseBN", "SimpleTrainer",
           "TrainerBase", "build_user_hooks", "create_ddp_model", "default_setup", "launch"]
