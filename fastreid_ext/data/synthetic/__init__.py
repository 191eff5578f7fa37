"""Synthetic SYSU-MM01 / RegDB generators writing the real on-disk layouts (demo data, test fixtures)."""
from .regdb import REGDB_DEFAULTS, generate_regdb
from .sysu import SYSU_DEFAULTS, generate_sysu

__all__ = ["REGDB_DEFAULTS", "SYSU_DEFAULTS", "generate_regdb", "generate_sysu"]
