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
from ..utils.plugins import import_plugins, resolve_plugin_sources
from .base_files import find_base
from .key_hints import fastreid_hint, key_hint, value_not_group
from .value_checks import check_config_values

__all__ = ["CfgNode", "ConfigError", "get_cfg", "register_config", "load_config", "read_imports",
           "read_import_sources", "resolve_aliases"]

BASE_KEY = "_BASE_"
_KEY_ADDERS: dict[str, Callable[["CfgNode"], None]] = {}


class ConfigError(UserKeyError):
    """A config file or command-line override does not fit the known keys or their types."""


def _base_path(base: str, referencing_file: str) -> str:
    """Where a ``_BASE_`` entry is: beside the file that names it, else in the repository's configs/
    (``base_files.find_base``); the first candidate when none exists."""
    found, candidates = find_base(base, referencing_file)
    return found or candidates[0]


def _bases(raw: dict) -> list:
    bases = raw.get(BASE_KEY, [])
    return [bases] if isinstance(bases, str) else bases if isinstance(bases, list) else [None]


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
    for base in _bases(raw):
        if not isinstance(base, str):
            raise ConfigError(f"_BASE_ in '{filename}' is {raw[BASE_KEY]!r}; expected a file path or a list of paths.")
        found, candidates = find_base(base, filename)
        if found is None:
            raise ConfigError(f"_BASE_ '{base}' named in '{filename}' does not exist; looked in: "
                              f"{', '.join(candidates)}.")
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
        """fvcore's merge of the ``_BASE_`` chain (bases in order, then the file), with bases found by
        ``_base_path`` (beside the file, then configs/) instead of beside the file only."""
        _check_base_cycle(filename)  # one line for a file that inherits from itself, not a RecursionError
        raw = _read_mapping(filename)  # each file of the _BASE_ chain passes through here
        if BASE_KEY not in raw:
            return raw
        merged: dict = {}
        for base in _bases(raw):
            _merge_into(cls.load_yaml_with_base(_base_path(base, filename), allow_unsafe=allow_unsafe), merged, filename)
        _merge_into({k: v for k, v in raw.items() if k != BASE_KEY}, merged, filename)
        return merged

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
        for key in cfg_list[0::2]:
            scalar = value_not_group(str(key), self)
            if scalar:  # yacs would fail with "argument of type 'int' is not iterable"
                hint = key_hint(str(key), self)
                raise ConfigError(f"Unknown config key '{key}' on the command line: '{scalar}' is a single value, "
                                  f"not a group of keys.{' ' + hint if hint else ''}")
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


def _merge_into(a: dict, b: dict, filename: str) -> None:
    """Values of ``a`` overwrite ``b``; mappings merge key by key (as fvcore)."""
    for k, v in a.items():
        if isinstance(v, dict) and k in b:
            if not isinstance(b[k], dict):
                raise ConfigError(f"Config file '{filename}': cannot inherit key '{k}' from base: it is a mapping "
                                  f"here and {b[k]!r} in a _BASE_ file.")
            _merge_into(v, b[k], filename)
        else:
            b[k] = v


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
        hint = key_hint(key, get_cfg())
        if hint:
            return f"Unknown config key '{key}' {where}. {hint}"
        parent = key.rsplit(".", 1)[0] if "." in key else ""
        known = _known_children(parent)
        hint = f" Known keys under '{parent}': {known}." if known else ""
        return (
            f"Unknown config key '{key}' {where}.{hint} If the key belongs to a plugin, list the "
            f"plugin in IMPORTS so that its key-adder runs before the file is merged."
        )
    hint = fastreid_hint(key) if key else ""
    return f"Invalid config value {where}: {msg}{'. ' + hint if hint else ''}"


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
    for base in _bases(raw):
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


def read_import_sources(config_file: str | None, opts: Sequence[Any] = ()) -> list[tuple[str, str | None]]:
    """First pass: ``(entry, folder of the file that names it)`` for the IMPORTS of a config file (the
    last file of its _BASE_ chain that sets IMPORTS wins, as in the merged config) and of the overrides
    (the top file's folder). A bare module name is also looked for in that folder (``utils.plugins``)."""
    pairs: list[tuple[str, str | None]] = []
    top = os.path.dirname(os.path.abspath(config_file)) if config_file else None
    if config_file:
        CfgNode.load_yaml_with_base(config_file)  # the whole chain is valid before it is walked
        found = _chain_imports(config_file)
        if found:
            pairs += [(e, found[1]) for e in found[0]]
    opts = list(opts)
    for k, v in zip(opts[0::2], opts[1::2]):
        if k == "IMPORTS":
            pairs += [(e, top) for e in _as_list(yaml.safe_load(v) if isinstance(v, str) else v, "the command line")]
    seen: list[tuple[str, str | None]] = []
    for pair in pairs:
        if pair[0] not in [e for e, _ in seen]:
            seen.append(pair)
    return seen


def _chain_imports(filename: str) -> tuple[list[str], str] | None:
    """(IMPORTS, folder) of the last file in merge order (bases first) that sets IMPORTS."""
    raw = _read_mapping(filename)
    found = None
    for base in _bases(raw):
        path = _base_path(base, filename)
        found = (_chain_imports(path) if not path.startswith(("https://", "http://")) else None) or found
    if "IMPORTS" in raw:
        found = (_as_list(raw["IMPORTS"], f"in '{filename}'"), os.path.dirname(os.path.abspath(filename)))
    return found


def read_imports(config_file: str | None, opts: Sequence[Any] = ()) -> list[str]:
    """The IMPORTS entries of a config file (its _BASE_ chain included) and of the overrides, as written."""
    return [entry for entry, _ in read_import_sources(config_file, opts)]


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
    source = f"IMPORTS of {config_file or 'the command line'}"
    imports = resolve_plugin_sources(read_import_sources(config_file, opts), source)
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
