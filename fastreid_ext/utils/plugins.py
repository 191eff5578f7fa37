"""Import the plugin modules named in the config key ``IMPORTS``.

A plugin registers meta-architectures, datasets, evaluators, hooks and config key-adders when it is
imported. Entries are dotted module names (``paenet``) or paths to a ``.py`` file or a package
folder. Imports are idempotent, so the loader can run in every spawned worker and in tests again
and again without tripping fvcore's duplicate-name assertion.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from types import ModuleType
from typing import Iterable

from .errors import UserError

__all__ = ["import_plugins", "imported_plugins", "PluginImportError"]

# entry as written (and its resolved absolute path for path entries) -> module
_IMPORTED: dict[str, ModuleType] = {}
_ORDER: list[str] = []


class PluginImportError(UserError, ImportError):
    """A plugin named in IMPORTS could not be imported."""


def imported_plugins() -> list[str]:
    """The IMPORTS entries imported so far in this process, in import order."""
    return list(_ORDER)


def _looks_like_path(entry: str) -> bool:
    return entry.endswith(".py") or os.sep in entry or "/" in entry or os.path.isdir(entry)


def _resolve_path(entry: str, search_dirs: Iterable[str]) -> str | None:
    candidates = [entry] if os.path.isabs(entry) else [os.path.join(d, entry) for d in search_dirs]
    for cand in candidates:
        if os.path.exists(cand):
            return os.path.abspath(cand)
    return None


def _import_path(path: str) -> ModuleType:
    """Load a file or package folder under a stable synthetic module name."""
    stem = os.path.splitext(os.path.basename(path.rstrip(os.sep)))[0]
    digest = hashlib.sha1(path.encode()).hexdigest()[:8]
    mod_name = f"fastreid_ext_plugins.{stem}_{digest}"
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    if os.path.isdir(path):
        init = os.path.join(path, "__init__.py")
        if not os.path.isfile(init):
            raise PluginImportError(f"Plugin folder '{path}' has no __init__.py; expected a Python package.")
        spec = importlib.util.spec_from_file_location(mod_name, init, submodule_search_locations=[path])
    else:
        spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise PluginImportError(f"Cannot load plugin file '{path}'.")
    if "fastreid_ext_plugins" not in sys.modules:
        sys.modules["fastreid_ext_plugins"] = ModuleType("fastreid_ext_plugins")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[mod_name]
        raise
    return module


def import_plugins(entries: Iterable[str], base_dir: str | None = None, source: str = "IMPORTS") -> list[ModuleType]:
    """Import every entry once. ``base_dir`` (the config file's folder) is searched for relative paths
    after the working directory. ``source`` names where the entries came from, for error messages."""
    modules = []
    for entry in entries:
        entry = str(entry).strip()
        if not entry:
            continue
        if entry in _IMPORTED:
            modules.append(_IMPORTED[entry])
            continue
        if _looks_like_path(entry):
            dirs = [os.getcwd()] + ([base_dir] if base_dir else [])
            path = _resolve_path(entry, dirs)
            if path is None:
                raise PluginImportError(
                    f"Plugin '{entry}' listed in {source} looks like a path but does not exist "
                    f"(searched relative to: {dirs})."
                )
            module = _IMPORTED.get(path) or _import_path(path)
            _IMPORTED[path] = module
        else:
            try:
                module = importlib.import_module(entry)
            except ModuleNotFoundError as e:
                if e.name and entry.split(".")[0] == e.name.split(".")[0]:
                    raise PluginImportError(
                        f"Plugin module '{entry}' listed in {source} is not importable: {e}. "
                        f"Install it (pip install -e .) or give the path of its .py file or folder. "
                        f"sys.path starts with {sys.path[:4]}"
                    ) from e
                raise
        _IMPORTED[entry] = module
        _ORDER.append(entry)
        modules.append(module)
    return modules
