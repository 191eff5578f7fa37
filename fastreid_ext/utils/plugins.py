"""Import the plugin modules named in the config key ``IMPORTS``.

A plugin registers meta-architectures, datasets, evaluators, hooks and config key-adders when it is
imported. An entry is either a module name (``paenet``, ``mypkg.models``), imported as a module
(installed, or on ``PYTHONPATH``), or a path to a ``.py`` file or a package folder (it contains a
``/`` or ends in ``.py``), loaded under its own name (the file stem or folder name) so that the
package can import itself by name and a later ``import name`` returns the same module instead of
registering everything twice. A module name that is not importable is also looked for beside the
config file that names it (``<folder>/name/`` or ``<folder>/name.py``): ``IMPORTS: [mypkg]`` works for
a ``mypkg/`` next to ``my.yml`` without ``PYTHONPATH``. ``resolve_plugin_entries`` /
``resolve_plugin_sources`` turn relative paths and such names into absolute paths, which is what a
saved config.yaml stores. Imports are idempotent.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from types import ModuleType
from typing import Iterable

from .errors import UserError

__all__ = ["import_plugins", "imported_plugins", "resolve_plugin_entries", "resolve_plugin_sources", "find_beside",
           "PluginImportError"]

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


def _importable(top: str) -> bool:
    """A top-level module name that ``import`` finds (already imported, installed or on sys.path)."""
    if top in sys.modules:
        return True
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


def find_beside(entry: str, folder: str | None) -> str | None:
    """The package folder or module file of the module name ``entry`` (its top-level part) in ``folder``."""
    if not folder:
        return None
    top = entry.split(".")[0]
    package, module = os.path.join(folder, top), os.path.join(folder, top + ".py")
    if os.path.isfile(os.path.join(package, "__init__.py")):
        return os.path.abspath(package)
    return os.path.abspath(module) if os.path.isfile(module) else None


def _path_module_name(path: str) -> str:
    return os.path.splitext(os.path.basename(path.rstrip(os.sep)))[0]


def resolve_plugin_sources(pairs: Iterable[tuple[str, str | None]], source: str = "IMPORTS") -> list[str]:
    """``(entry, folder of the config file naming it)`` pairs → the entries to import and to save.

    Paths become absolute (relative to the working directory, then the folder). A module name is kept
    when ``import`` finds it (or an earlier entry provides it); else its package or file beside the
    config file is used, as an absolute path (``mypkg.models`` → ``[/abs/mypkg, mypkg.models]``);
    else the name is refused with the places searched. Empty entries and repeats are dropped."""
    out: list[str] = []

    def add(e: str) -> None:
        if e not in out:
            out.append(e)

    for entry, folder in pairs:
        entry = str(entry).strip()
        if not entry:
            continue
        if is_path_entry(entry):
            add(_resolve_path(entry, folder, source))
            continue
        top = entry.split(".")[0]
        provided = any(is_path_entry(e) and _path_module_name(e) == top for e in out)
        # imported from a path earlier in this process: that path again (sys.modules alone would not replay)
        earlier = next((k for k, m in _IMPORTED.items() if is_path_entry(k) and m.__name__ == top), None)
        if provided or (earlier is None and _importable(top)):
            add(entry)
            continue
        beside = earlier or find_beside(entry, folder)
        if beside is None:
            where = f"; not in {folder} either (looked for {top}/__init__.py and {top}.py)" if folder else ""
            raise PluginImportError(
                f"Plugin module '{entry}' listed in {source} is not importable (not installed, not on PYTHONPATH"
                f"{where}). Put the package beside the config file, install it (pip install -e .), or give the "
                f"path of its .py file or folder (e.g. ./{top}).")
        add(beside)
        if entry != top:
            add(entry)
    return out


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
    name = _path_module_name(path)
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
                f"Plugin module '{entry}' listed in {source} is not importable: {e}. Put the package beside the config "
                f"file, install it (pip install -e .), or give the path of its .py file or folder (e.g. ./{entry})."
            ) from e
        raise


def import_plugins(entries: Iterable[str], base_dir: str | None = None, source: str = "IMPORTS") -> list[ModuleType]:
    """Import every entry once. ``base_dir`` (the config file's folder) is searched for relative paths
    after the working directory, and for module names that ``import`` does not find. ``source`` names
    where the entries came from, for error messages."""
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
                beside = None if _importable(entry.split(".")[0]) else find_beside(entry, base_dir)
                if beside:  # the package beside the config file, under its own name
                    import_plugins([beside], source=source)
                module = _import_module(entry, source)
            _IMPORTED[entry] = module
        modules.append(_IMPORTED[entry])
    return modules
