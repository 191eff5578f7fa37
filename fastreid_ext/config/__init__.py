"""Configs: fvcore CfgNode with _BASE_, core defaults, plugin key-adders, two-pass IMPORTS loading."""
from .config import CfgNode, ConfigError, get_cfg, load_config, read_imports, register_config

__all__ = ["CfgNode", "ConfigError", "get_cfg", "load_config", "read_imports", "register_config"]
