"""``DatasetCache``: the datasets of one run, read once.

A run needs its training datasets to complete the config (class and attribute counts), to build the
train loader and, often, as a test dataset too; reading a 34k-image folder three times costs seconds
and three identical log tables. The command line makes one cache per process and hands it to the
setup and the trainer; an entry is keyed by the dataset name and the ``DATASETS`` options that decide
what is read, so a changed option reads again.
"""
from __future__ import annotations

from .build import build_dataset

__all__ = ["DatasetCache", "get_dataset"]


class DatasetCache:
    def __init__(self):
        self._built: dict[tuple[str, str], object] = {}

    def get(self, cfg, name: str):
        key = (name, cfg.DATASETS.dump())
        if key not in self._built:
            self._built[key] = build_dataset(cfg, name)
        return self._built[key]

    def __len__(self) -> int:
        return len(self._built)


def get_dataset(cfg, name: str, cache: DatasetCache | None = None):
    """``cache.get(cfg, name)``, or a fresh read without a cache."""
    return cache.get(cfg, name) if cache is not None else build_dataset(cfg, name)
