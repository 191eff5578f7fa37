"""Ordered test loading: each rank gets one contiguous slice, so gathering in rank order restores
the record order the evaluator relies on."""
from __future__ import annotations

from torch.utils.data import Sampler

from ...utils import comm

__all__ = ["InferenceSampler"]


class InferenceSampler(Sampler):
    def __init__(self, size: int, rank: int | None = None, world_size: int | None = None):
        self.rank = comm.get_rank() if rank is None else int(rank)
        self.world_size = comm.get_world_size() if world_size is None else int(world_size)
        per = (size + self.world_size - 1) // self.world_size
        self.indices = range(min(size, self.rank * per), min(size, (self.rank + 1) * per))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)
