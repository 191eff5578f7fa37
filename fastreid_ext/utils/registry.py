"""fvcore's Registry with the two behaviours a plugin system needs.

* A missing name raises a ``KeyError`` that lists the registered names and the plugins imported
  so far, so "my meta-architecture is not found" points straight at a missing ``IMPORTS`` entry.
* Re-registering the *same* object (same module and qualified name, e.g. a plugin module loaded
  again under a test runner) replaces the entry instead of asserting; a different object under an
  existing name is still an error.
* A registry knows the package that registers its built-ins (``builtins``) and imports it on first
  use, once: no caller has to remember to import the built-ins before a look-up.
"""
from __future__ import annotations

import importlib
from typing import Any

from fvcore.common.registry import Registry as _FvcoreRegistry

from .errors import UserKeyError

__all__ = ["Registry"]


def _identity(obj: Any) -> tuple[str, str]:
    return getattr(obj, "__module__", ""), getattr(obj, "__qualname__", repr(obj))


class Registry(_FvcoreRegistry):
    """A name → object map, filled by ``@REGISTRY.register()`` decorators at import time;
    ``builtins``: the module(s) whose import registers the built-in entries (imported on first use)."""

    def __init__(self, name: str, builtins: str | tuple[str, ...] = ()):
        super().__init__(name)
        self._builtins = (builtins,) if isinstance(builtins, str) else tuple(builtins)
        self._builtins_loaded = not self._builtins

    def load_builtins(self) -> None:
        if not self._builtins_loaded:
            self._builtins_loaded = True  # first: the imports register into this very registry
            for module in self._builtins:
                importlib.import_module(module)

    def __contains__(self, name: str) -> bool:
        self.load_builtins()
        return name in self._obj_map

    def __iter__(self):
        self.load_builtins()
        return super().__iter__()

    def _do_register(self, name: str, obj: Any) -> None:
        old = self._obj_map.get(name)
        if old is not None and old is not obj and _identity(old) != _identity(obj):
            raise KeyError(
                f"An object named '{name}' is already registered in the '{self._name}' registry "
                f"({_identity(old)[0]}.{_identity(old)[1]}); cannot register "
                f"{_identity(obj)[0]}.{_identity(obj)[1]} under the same name."
            )
        self._obj_map[name] = obj

    def get(self, name: str) -> Any:
        self.load_builtins()
        ret = self._obj_map.get(name)
        if ret is None:
            from .plugins import imported_plugins  # local: plugins imports nothing from here

            plugins = imported_plugins()
            raise UserKeyError(
                f"No object named '{name}' found in the '{self._name}' registry. "
                f"Registered names: {sorted(self._obj_map) or 'none'}. "
                f"Plugins imported: {plugins or 'none'}. If '{name}' is defined in your own "
                f"package, list that package (or the path of its .py file) in the config key IMPORTS."
            )
        return ret

    def names(self) -> list[str]:
        self.load_builtins()
        return sorted(self._obj_map)

    def build(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Look ``name`` up and construct it through its ``from_config`` classmethod when it has one."""
        obj = self.get(name)
        factory = getattr(obj, "from_config", obj)
        return factory(*args, **kwargs)
