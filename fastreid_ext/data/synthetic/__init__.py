"""Synthetic SYSU-MM01 / RegDB generators writing the real on-disk layouts (demo data, test fixtures)."""
from .presets import REGDB_PRESETS, SYSU_PRESETS
from .regdb import REGDB_DEFAULTS, generate_regdb
from .sysu import SYSU_DEFAULTS, generate_sysu

__all__ = ["REGDB_DEFAULTS", "REGDB_PRESETS", "SYSU_DEFAULTS", "SYSU_PRESETS", "generate_regdb", "generate_sysu"]
