"""DATASET_REGISTRY and ``build_dataset``."""
from __future__ import annotations

from ...utils.registry import Registry

__all__ = ["DATASET_REGISTRY", "build_dataset"]

DATASET_REGISTRY = Registry("DATASET", builtins="fastreid_ext.data.datasets")
DATASET_REGISTRY.__doc__ = """Datasets: classes built by ``from_config(cfg)`` exposing ``train``, ``query`` and ``gallery``
lists of ``ImageRecord``, ``attribute_names`` and ``default_evaluator``."""


def build_dataset(cfg, name: str):
    return DATASET_REGISTRY.build(name, cfg)
