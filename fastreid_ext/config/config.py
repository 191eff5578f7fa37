"""Config node, the core defaults plus registered key-adders, and the two-pass loader.

Built on fvcore's ``CfgNode`` (``_BASE_`` inheritance, safe yaml). Project keys are added by
functions decorated with :func:`register_config`; unknown keys are never accepted silently
(no ``set_new_allowed``), and an unknown or mistyped key names the key and the file it came from.
"""
from __future__ import annotations

import os
import re
from typing import Any, Callable, Iterable, Sequence

import yaml
from fvcore.common.config import CfgNode as _FvcoreCfgNode

from ..utils.errors import UserKeyError
from ..utils.plugins import import_plugins, resolve_plugin_entries
from .value_checks import check_config_values

__all__ = ["CfgNode", "ConfigError", "get_cfg", "register_config", "load_config", "read_imports", "resolve_aliases"]

BASE_KEY = "_BASE_"
_KEY_ADDERS: dict[str, Callable[["CfgNode"], None]] = {}


class ConfigError(UserKeyError):
    """A config file or command-line override does not fit the known keys or their types."""


def _base_path(base: str, referencing_file: str) -> str:
    """Where fvcore looks for a ``_BASE_`` entry: relative to the file that names it."""
    base = os.path.expanduser(base)
    return base if base.startswith(("/", "https://", "http://")) else os.path.join(os.path.dirname(referencing_file), base)


def _read_mapping(filename: str) -> dict:
    """The raw yaml of one config file, refused unless it is a non-empty mapping with existing bases."""
    if not os.path.isfile(filename):
        raise ConfigError(f"Config file '{filename}' does not exist.")
    try:
        with open(filename) as f:
            raw = yaml.safe_load(f)
    except yaml.YAMLError as e:
        raise ConfigError(f"Config file '{filename}' is not valid YAML: {' '.join(str(e).split())}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"Config file '{filename}' cannot be read: {e}") from None
    if raw is None:
        raise ConfigError(f"Config file '{filename}' is empty; expected a mapping of KEY: value entries.")
    if not isinstance(raw, dict):
        raise ConfigError(f"Config file '{filename}' holds a {type(raw).__name__}; expected a mapping of KEY: value "
                          f"entries (e.g. 'MODEL: {{META_ARCHITECTURE: PAENet}}').")
    bases = raw.get(BASE_KEY, [])
    for base in [bases] if isinstance(bases, str) else bases if isinstance(bases, list) else [None]:
        if not isinstance(base, str):
            raise ConfigError(f"_BASE_ in '{filename}' is {bases!r}; expected a file path or a list of paths.")
        path = _base_path(base, filename)
        if not path.startswith(("https://", "http://")) and not os.path.isfile(path):
            raise ConfigError(f"_BASE_ '{base}' named in '{filename}' does not exist (looked for '{path}').")
    return raw


def _check_base_cycle(filename: str, chain: tuple = ()) -> None:
    """A file that inherits from itself (directly or through other files) is one line, not a RecursionError."""
    real = os.path.realpath(filename)
    if real in chain:
        loop = [*chain[chain.index(real):], real]
        raise ConfigError(f"_BASE_ cycle: {' -> '.join(loop)}; a config file cannot inherit from itself.")
    bases = _read_mapping(filename).get(BASE_KEY, [])
    for base in [bases] if isinstance(bases, str) else bases:
        path = _base_path(base, filename)
        if not path.startswith(("https://", "http://")):
            _check_base_cycle(path, (*chain, real))


def _promote_ints(values: dict, node) -> dict:
    """An integer where the default is a float (``SOLVER.BASE_LR: 1``) is that float, not a type mismatch."""
    out = {}
    for k, v in values.items():
        ref = node.get(k) if isinstance(node, dict) else None
        if isinstance(v, dict) and isinstance(ref, dict):
            v = _promote_ints(v, ref)
        elif isinstance(ref, float) and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        out[k] = v
    return out


class CfgNode(_FvcoreCfgNode):
    """fvcore CfgNode whose merge errors name the offending key and file."""

    @classmethod
    def load_yaml_with_base(cls, filename: str, allow_unsafe: bool = False) -> dict:
        _check_base_cycle(filename)  # each file of the _BASE_ chain passes through here (and _read_mapping)
        try:
            return super().load_yaml_with_base(filename, allow_unsafe=allow_unsafe)
        except AssertionError as e:  # "Cannot inherit key ... from base"
            raise ConfigError(f"Config file '{filename}': {e}") from None

    def merge_from_file(self, cfg_filename: str, allow_unsafe: bool = False) -> None:
        loaded = _promote_ints(self.load_yaml_with_base(cfg_filename, allow_unsafe=allow_unsafe), self)
        try:
            self.merge_from_other_cfg(type(self)(loaded))
        except (KeyError, ValueError, AssertionError) as e:
            raise ConfigError(_explain(e, cfg_filename)) from None

    def merge_from_list(self, cfg_list: Sequence[Any]) -> None:
        if len(cfg_list) % 2 != 0:
            raise ConfigError(
                f"Command-line overrides must be KEY VALUE pairs; got an odd number of items: {list(cfg_list)}"
            )
        cfg_list = list(cfg_list)
        for i in range(0, len(cfg_list), 2):  # integer values of float keys: promoted as in files
            ref, value = self, self._decode_cfg_value(cfg_list[i + 1]) if isinstance(cfg_list[i + 1], str) else cfg_list[i + 1]
            for part in str(cfg_list[i]).split("."):
                ref = ref.get(part) if isinstance(ref, dict) else None
            if isinstance(ref, float) and isinstance(value, int) and not isinstance(value, bool):
                cfg_list[i + 1] = float(value)
        try:
            super().merge_from_list(cfg_list)
        except (KeyError, ValueError, AssertionError) as e:
            raise ConfigError(_explain(e, None)) from None


def _explain(err: Exception, cfg_filename: str | None) -> str:
    msg = str(err.args[0]) if err.args else str(err)
    m = re.search(r"(?:Non-existent config key|Non-existent key|for config key):?\s*([\w.]+)", msg)
    key = m.group(1) if m else None
    if cfg_filename is None:
        where = "on the command line"
    else:
        files = _files_defining(cfg_filename, key) if key else []
        where = f"in '{files[-1]}'" if files else f"in '{cfg_filename}' (or one of its _BASE_ files)"
    if "Non-existent" in msg and key:
        parent = key.rsplit(".", 1)[0] if "." in key else ""
        hint = f" Known keys under '{parent}': {_known_children(parent)}." if parent else ""
        return (
            f"Unknown config key '{key}' {where}.{hint} If the key belongs to a plugin, list the "
            f"plugin in IMPORTS so that its key-adder runs before the file is merged."
        )
    return f"Invalid config value {where}: {msg}"


def _known_children(parent: str) -> list[str]:
    node: Any = get_cfg()
    for part in parent.split("."):
        if not isinstance(node, dict) or part not in node:
            return []
        node = node[part]
    return sorted(node.keys()) if isinstance(node, dict) else []


def _files_defining(filename: str, key: str) -> list[str]:
    """Files of the _BASE_ chain (bases first) whose raw yaml sets ``key``."""
    found: list[str] = []
    try:
        with open(filename) as f:
            raw = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError):
        return found
    bases = raw.get(BASE_KEY, [])
    for base in [bases] if isinstance(bases, str) else bases:
        found += _files_defining(_base_path(base, filename), key)
    node: Any = raw
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return found
        node = node[part]
    return found + [filename]


def register_config(fn: Callable[[CfgNode], None]) -> Callable[[CfgNode], None]:
    """Register a key-adder ``fn(cfg)`` that adds a plugin's keys to every config from ``get_cfg()``.

    Idempotent per function (module + name), so re-importing a plugin is harmless.
    """
    _KEY_ADDERS[f"{fn.__module__}.{fn.__qualname__}"] = fn
    return fn


def get_cfg() -> CfgNode:
    """Core defaults plus the keys of every registered plugin, as a fresh mutable node."""
    from .defaults import _C

    cfg = _C.clone()
    for adder in _KEY_ADDERS.values():
        adder(cfg)
    return cfg


def read_imports(config_file: str | None, opts: Sequence[Any] = ()) -> list[str]:
    """First pass: the IMPORTS of a config file (its _BASE_ chain included) and of the overrides."""
    entries: list[str] = []
    if config_file:
        raw = CfgNode.load_yaml_with_base(config_file)
        entries += _as_list(raw.get("IMPORTS", []), config_file)
    opts = list(opts)
    for k, v in zip(opts[0::2], opts[1::2]):
        if k == "IMPORTS":
            entries += _as_list(yaml.safe_load(v) if isinstance(v, str) else v, "the command line")
    seen: list[str] = []
    for e in entries:
        if e not in seen:
            seen.append(e)
    return seen


def _as_list(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ConfigError(f"IMPORTS {where} must be a list of module names or paths, got {value!r}.")


def load_config(config_file: str | None, opts: Iterable[Any] = (), freeze: bool = True) -> CfgNode:
    """Two-pass load: import the plugins named in IMPORTS, then build defaults + key-adders, merge
    the file, then the ``KEY VALUE`` overrides."""
    opts = list(opts)
    base_dir = os.path.dirname(os.path.abspath(config_file)) if config_file else None
    source = f"IMPORTS of {config_file or 'the command line'}"
    imports = resolve_plugin_entries(read_imports(config_file, opts), base_dir, source)
    import_plugins(imports, source=source)
    cfg = get_cfg()
    if config_file:
        cfg.merge_from_file(config_file)
    if opts:
        cfg.merge_from_list(opts)
    cfg.IMPORTS = imports  # resolved (absolute paths), so config.yaml replays the same plugins
    resolve_aliases(cfg)
    check_config_values(cfg)
    if freeze:
        cfg.freeze()
    return cfg


FASTREID_DISTANCES = ("cosine", "euclidean")


def resolve_aliases(cfg: CfgNode) -> CfgNode:
    """Give fast-reid's keys fast-reid's meaning where ours differ (in place, before freezing).

    ``TEST.METRIC`` is fast-reid's ranking distance (``cosine`` | ``euclidean``): copied to
    ``TEST.RANKING.DISTANCE``. Up to version 0.1 this project used ``TEST.METRIC`` for the model
    selection key, now ``TEST.SELECT_METRIC``; a result key found there is refused with a line that
    says where it moved, so an old config never silently ranks or selects differently.
    """
    metric = cfg.TEST.METRIC
    if not metric:
        return cfg
    if "/" in metric:
        raise ConfigError(f"TEST.METRIC is '{metric}', a result key: TEST.METRIC now has fast-reid's meaning (the "
                          f"ranking distance, one of {FASTREID_DISTANCES}); the model-selection key is "
                          f"TEST.SELECT_METRIC (write TEST.SELECT_METRIC {metric}).")
    if metric == "jaccard":
        raise ConfigError("TEST.METRIC is 'jaccard': fast-reid's Jaccard distance is k-reciprocal re-ranking here; "
                          "set TEST.RERANK.ENABLED True (and TEST.METRIC cosine or euclidean).")
    if metric not in FASTREID_DISTANCES:
        raise ConfigError(f"TEST.METRIC is '{metric}'; expected one of {FASTREID_DISTANCES} (fast-reid's ranking "
                          f"distance, the same as TEST.RANKING.DISTANCE) or '' to keep TEST.RANKING.DISTANCE.")
    default = get_cfg().TEST.RANKING.DISTANCE
    distance = cfg.TEST.RANKING.DISTANCE
    if distance != default and distance != metric:
        raise ConfigError(f"TEST.METRIC '{metric}' and TEST.RANKING.DISTANCE '{distance}' disagree; both name the "
                          f"ranking distance, set one of them.")
    cfg.TEST.RANKING.DISTANCE = metric
    return cfg
