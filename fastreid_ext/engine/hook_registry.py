"""HOOK_REGISTRY: user hooks named in ``TRAIN.HOOKS``."""
from __future__ import annotations

from ..utils.registry import Registry

__all__ = ["HOOK_REGISTRY", "build_user_hooks"]

HOOK_REGISTRY = Registry("HOOK")
HOOK_REGISTRY.__doc__ = """Hooks (subclasses of ``HookBase``) built by ``from_config(cfg, trainer)``."""


def build_user_hooks(cfg, trainer) -> list:
    return [HOOK_REGISTRY.build(name, cfg, trainer) for name in cfg.TRAIN.HOOKS]
