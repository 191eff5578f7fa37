"""Engine: iteration trainer with epoch boundaries, hooks, launch, command line."""
from .hook_registry import HOOK_REGISTRY, build_user_hooks

__all__ = ["HOOK_REGISTRY", "build_user_hooks"]
