"""Synthetic-data generators by dataset: how ``prepare_datasets`` (``DATASETS.SYNTHETIC``) and
``tools/make_synthetic.py`` find the generator of a dataset, built-in or a plugin's.

A generator writes a dataset folder in the dataset's real layout: ``generate(folder, seed=..., preset=...,
num_ids=..., <images_key>=..., height=..., width=..., progress=...)``. It registers itself with
:func:`register_generator`, next to its code; nothing else needs to know it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ...utils.errors import UserError
from ...utils.registry import Registry

__all__ = ["SyntheticGenerator", "SYNTHETIC_REGISTRY", "register_generator", "find_generator"]

SYNTHETIC_REGISTRY = Registry("SYNTHETIC_DATA", builtins="fastreid_ext.data.synthetic")
SYNTHETIC_REGISTRY.__doc__ = "Synthetic-data generators (SyntheticGenerator), under the dataset name they write."


@dataclass(frozen=True)
class SyntheticGenerator:
    dataset: str  # the registered dataset whose layout it writes
    generate: Callable[..., str]
    images_key: str  # its per-identity image-count keyword (DATASETS.SYNTHETIC.IMAGES_PER_CAMERA)
    short_name: str = ""  # tools/make_synthetic.py's name for it
    presets: dict = field(default_factory=dict)
    name: str = ""  # the generator's name in a folder's SYNTHETIC.json (its function's name)

    def __post_init__(self):
        if not self.name:
            object.__setattr__(self, "name", self.generate.__name__)


def register_generator(dataset: str, images_key: str, short_name: str = "", presets: dict | None = None):
    """Function decorator: register ``generate`` as the synthetic generator of ``dataset``."""
    def deco(generate):
        SYNTHETIC_REGISTRY._do_register(dataset, SyntheticGenerator(dataset, generate, images_key,
                                                                    short_name or dataset.lower(), dict(presets or {})))
        return generate
    return deco


def find_generator(name: str) -> SyntheticGenerator:
    """By dataset name (``SYSU_MM01``) or short name (``sysu``); one line listing both otherwise."""
    gens = [SYNTHETIC_REGISTRY.get(n) for n in SYNTHETIC_REGISTRY.names()]
    for gen in gens:
        if name in (gen.dataset, gen.short_name):
            return gen
    raise UserError(f"No synthetic generator for '{name}'; generators: "
                    f"{sorted(f'{g.dataset} ({g.short_name})' for g in gens)} (a plugin registers one with "
                    f"fastreid_ext.data.synthetic.register_generator).")
