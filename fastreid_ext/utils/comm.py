"""Process-group helpers (rank, world size, gather, barrier), safe to call without torch.distributed.

Everything degrades to the single-process answer when no process group is initialised, so the same
code runs in tests, on one CPU and under ``launch``/``torchrun``.
"""
from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist

__all__ = [
    "get_world_size",
    "get_rank",
    "get_local_rank",
    "is_main_process",
    "synchronize",
    "all_gather",
    "gather",
    "broadcast",
]


def _initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_world_size() -> int:
    return dist.get_world_size() if _initialized() else 1


def get_rank() -> int:
    return dist.get_rank() if _initialized() else 0


def get_local_rank() -> int:
    """Rank within the machine: from LOCAL_RANK (launch and torchrun both set it), else 0."""
    return int(os.environ.get("LOCAL_RANK", 0)) if _initialized() else 0


def is_main_process() -> bool:
    return get_rank() == 0


def synchronize() -> None:
    """Barrier across all processes (no-op when single-process)."""
    if get_world_size() > 1:
        if dist.get_backend() == dist.Backend.NCCL and torch.cuda.is_available():
            dist.barrier(device_ids=[torch.cuda.current_device()])
        else:
            dist.barrier()


def all_gather(data: Any) -> list[Any]:
    """Picklable object from every rank, as a list indexed by rank."""
    world = get_world_size()
    if world == 1:
        return [data]
    out: list[Any] = [None] * world
    dist.all_gather_object(out, data)
    return out


def gather(data: Any, dst: int = 0) -> list[Any]:
    """Picklable objects of every rank on ``dst`` (a list), ``[]`` elsewhere."""
    world = get_world_size()
    if world == 1:
        return [data]
    out: list[Any] | None = [None] * world if get_rank() == dst else None
    dist.gather_object(data, out, dst=dst)
    return out if out is not None else []


def broadcast(data: Any, src: int = 0) -> Any:
    """``src``'s picklable object on every rank (all ranks must call it; others may pass None)."""
    if get_world_size() == 1:
        return data
    box = [data if get_rank() == src else None]
    dist.broadcast_object_list(box, src=src)
    return box[0]
