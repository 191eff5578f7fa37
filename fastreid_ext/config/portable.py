"""The config as saved to OUTPUT_DIR/config.yaml: replayable from any working directory.

A saved config is read later, often from another folder (``--config-file OUTPUT_DIR/config.yaml
--eval-only``), so every relative path in it is made absolute against the directory the run was
started from, plugin entries are stored resolved, and synthetic-data generation is switched off:
by the time a config is saved its data exists, and a replay must never generate a new dataset.
"""
from __future__ import annotations

import os

from ..utils.plugins import resolve_plugin_entries

__all__ = ["portable_config", "PATH_KEYS"]

# Keys holding a file or folder path that is relative to the working directory when relative.
PATH_KEYS = ("OUTPUT_DIR", "DATASETS.ATTRIBUTES.PATH", "MODEL.WEIGHTS", "MODEL.BACKBONE.PRETRAIN_PATH")


def _get(cfg, key: str):
    node = cfg
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _set(cfg, key: str, value) -> None:
    parent, _, leaf = key.rpartition(".")
    node = _get(cfg, parent) if parent else cfg
    node[leaf] = value


def portable_config(cfg, config_file: str | None = None):
    """A mutable copy of ``cfg`` fit to be saved (``config_file``: the file the run was started
    with; relative plugin paths are also looked up in its folder)."""
    from ..data.datasets.bases import datasets_root  # lazy: config must not import the data stack

    c = cfg.clone()
    c.defrost()
    base = os.path.dirname(os.path.abspath(config_file)) if config_file else None
    c.IMPORTS = resolve_plugin_entries(cfg.IMPORTS, base)
    if _get(c, "DATASETS.ROOT") is not None:
        c.DATASETS.ROOT = datasets_root(cfg)
    for key in PATH_KEYS:
        value = _get(c, key)
        if isinstance(value, str) and value and "://" not in value:
            _set(c, key, os.path.abspath(os.path.expanduser(value)))
    if _get(c, "DATASETS.SYNTHETIC.PRESET") is not None:
        c.DATASETS.SYNTHETIC.PRESET = ""
    return c
