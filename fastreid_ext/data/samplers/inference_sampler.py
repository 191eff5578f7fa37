"""Ordered test loading: each rank gets one contiguous slice, so gathering in rank order restores
the record order the evaluator relies on."""
from __future__ import annotations

import torch.distributed as dist
from torch.utils.data import Sampler

__all__ = ["InferenceSampler"]


class InferenceSampler(Sampler):
    def __init__(self, size: int, rank: int | None = None, world_size: int | None = None):
        initialised = dist.is_available() and dist.is_initialized()
        self.rank = rank if rank is not None else (dist.get_rank() if initialised else 0)
        self.world_size = world_size if world_size is not None else (dist.get_world_size() if initialised else 1)
        per = (size + self.world_size - 1) // self.world_size
        self.indices = range(min(size, self.rank * per), min(size, (self.rank + 1) * per))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)
