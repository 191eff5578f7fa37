"""Import the plugin modules named in the config key ``IMPORTS``.

A plugin registers meta-architectures, datasets, evaluators, hooks and config key-adders when it is
imported. An entry is either a module name (``paenet``, ``mypkg.models``), imported as a module
(installed, or on ``PYTHONPATH``), or a path to a ``.py`` file or a package folder (it contains a
``/`` or ends in ``.py``), loaded under its own name (the file stem or folder name) so that the
package can import itself by name and a later ``import name`` returns the same module instead of
registering everything twice. ``resolve_plugin_entries`` turns relative paths into absolute ones,
which is what a saved config.yaml stores. Imports are idempotent.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from types import ModuleType
from typing import Iterable

from .errors import UserError

__all__ = ["import_plugins", "imported_plugins", "resolve_plugin_entries", "PluginImportError"]

# entry as written or resolved -> module, in import order (what registry errors list)
_IMPORTED: dict[str, ModuleType] = {}


class PluginImportError(UserError, ImportError):
    """A plugin named in IMPORTS could not be imported."""


def imported_plugins() -> list[str]:
    """The IMPORTS entries imported so far in this process, in import order."""
    return list(_IMPORTED)


def is_path_entry(entry: str) -> bool:
    """A path (``.py`` file or anything with a separator); every other entry is a module name."""
    return entry.endswith(".py") or "/" in entry or os.sep in entry


def _resolve_path(entry: str, base_dir: str | None, source: str) -> str:
    dirs = [os.getcwd()] + ([base_dir] if base_dir else [])
    candidates = [entry] if os.path.isabs(entry) else [os.path.join(d, entry) for d in dirs]
    for cand in candidates:
        if os.path.exists(cand):
            return os.path.abspath(cand)
    raise PluginImportError(
        f"Plugin '{entry}' listed in {source} looks like a path but does not exist (searched relative to: {dirs})."
    )


def resolve_plugin_entries(entries: Iterable[str], base_dir: str | None = None, source: str = "IMPORTS") -> list[str]:
    """Module names unchanged, paths made absolute (relative to the working directory, then
    ``base_dir``, the config file's folder), empty entries and repeats dropped."""
    out: list[str] = []
    for entry in entries:
        entry = str(entry).strip()
        if entry and is_path_entry(entry):
            entry = _resolve_path(entry, base_dir, source)
        if entry and entry not in out:
            out.append(entry)
    return out


def _module_file(path: str) -> str:
    return os.path.join(path, "__init__.py") if os.path.isdir(path) else path


def _import_path(path: str) -> ModuleType:
    """Load a ``.py`` file or package folder under its own module name (file stem / folder name)."""
    name = os.path.splitext(os.path.basename(path.rstrip(os.sep)))[0]
    init = _module_file(path)
    if os.path.isdir(path) and not os.path.isfile(init):
        raise PluginImportError(f"Plugin folder '{path}' has no __init__.py; expected a Python package.")
    if not name.isidentifier():
        raise PluginImportError(f"Plugin '{path}': '{name}' is not a valid Python module name.")
    loaded = sys.modules.get(name)
    if loaded is not None:
        if os.path.abspath(getattr(loaded, "__file__", "") or "") == os.path.abspath(init):
            return loaded
        raise PluginImportError(
            f"Plugin '{path}' would be imported as module '{name}', but a different '{name}' is already "
            f"imported from {getattr(loaded, '__file__', None)}; rename one of them."
        )
    if os.path.isdir(path):
        spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[path])
    else:
        spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PluginImportError(f"Cannot load plugin file '{path}'.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _import_module(entry: str, source: str) -> ModuleType:
    try:
        return importlib.import_module(entry)
    except ModuleNotFoundError as e:
        if e.name and entry.split(".")[0] == e.name.split(".")[0]:
            raise PluginImportError(
                f"Plugin module '{entry}' listed in {source} is not importable: {e}. Install it (pip install -e .), "
                f"put its parent folder on PYTHONPATH, or give the path of its .py file or folder (e.g. ./{entry})."
            ) from e
        raise


def import_plugins(entries: Iterable[str], base_dir: str | None = None, source: str = "IMPORTS") -> list[ModuleType]:
    """Import every entry once. ``base_dir`` (the config file's folder) is searched for relative paths
    after the working directory. ``source`` names where the entries came from, for error messages."""
    modules = []
    for entry in entries:
        entry = str(entry).strip()
        if not entry:
            continue
        if entry not in _IMPORTED:
            if is_path_entry(entry):
                path = _resolve_path(entry, base_dir, source)
                module = _IMPORTED.get(path) or _import_path(path)
                _IMPORTED.setdefault(path, module)
            else:
                module = _import_module(entry, source)
            _IMPORTED[entry] = module
        modules.append(_IMPORTED[entry])
    return modules
