"""Named sizes of the synthetic datasets: ``demo`` (seconds to generate, minutes to learn on a CPU)
and ``benchmark`` (SYSU-MM01 / RegDB proportions at a CPU-trainable image count).

A preset fills the generator's keyword arguments; keywords passed explicitly win over it.
"""
from __future__ import annotations

__all__ = ["SYSU_PRESETS", "REGDB_PRESETS", "resolve_options"]

# SYSU-MM01 releases 296 train + 99 val + 96 test ids: test 96/491 of all ids, val 99/395 of the rest.
_SYSU_TEST, _SYSU_VAL = 96 / 491, 99 / 395

SYSU_PRESETS = {
    "demo": {"num_ids": 120, "images_per_camera": 4, "height": 72, "width": 32,
             "test_fraction": 1 / 3, "val_fraction": _SYSU_VAL},
    "benchmark": {"num_ids": 491, "images_per_camera": 5, "height": 96, "width": 40,
                  "test_fraction": _SYSU_TEST, "val_fraction": _SYSU_VAL},
}
# RegDB: 412 ids, 10 visible + 10 thermal images each, split half/half per trial.
REGDB_PRESETS = {
    "demo": {"num_ids": 80, "images_per_id": 6, "height": 72, "width": 32},
    "benchmark": {"num_ids": 412, "images_per_id": 10, "height": 96, "width": 40},
}


def resolve_options(name: str, presets: dict, defaults: dict, preset: str | None, given: dict) -> dict:
    """defaults < preset < the keywords actually given (those not None)."""
    if preset is not None and preset not in presets:
        raise ValueError(f"{name}: preset={preset!r}, expected one of {sorted(presets)} or None.")
    return {**defaults, **(presets[preset] if preset else {}), **{k: v for k, v in given.items() if v is not None}}
