"""Synthetic dataset generators writing the real on-disk layouts (demo data, test fixtures); each
registers itself by dataset name (:mod:`.registry`)."""
from .presets import REGDB_PRESETS, SYSU_PRESETS
from .regdb import REGDB_DEFAULTS, generate_regdb
from .registry import SYNTHETIC_REGISTRY, SyntheticGenerator, find_generator, register_generator
from .sysu import SYSU_DEFAULTS, generate_sysu

__all__ = ["REGDB_DEFAULTS", "REGDB_PRESETS", "SYSU_DEFAULTS", "SYSU_PRESETS", "generate_regdb", "generate_sysu",
           "SYNTHETIC_REGISTRY", "SyntheticGenerator", "find_generator", "register_generator"]
