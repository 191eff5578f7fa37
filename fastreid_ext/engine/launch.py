"""Start ``main_func`` in one process, in N spawned processes, or inside a ``torchrun`` job.

Backend: NCCL when CUDA is available, GLOO otherwise. On a CPU-only machine ``--num-gpus N`` starts N
CPU processes that train together with GLOO (useful to test distributed code without GPUs).
"""
from __future__ import annotations

import datetime
import logging
import os
import socket
from typing import Any, Callable

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

__all__ = ["launch", "DEFAULT_TIMEOUT"]

DEFAULT_TIMEOUT = datetime.timedelta(minutes=30)


def _find_free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _backend() -> str:
    return "nccl" if torch.cuda.is_available() else "gloo"


def _under_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ and "MASTER_ADDR" in os.environ


def launch(main_func: Callable[..., Any], num_gpus_per_machine: int, num_machines: int = 1, machine_rank: int = 0,
           dist_url: str | None = None, args: tuple = (), timeout: datetime.timedelta = DEFAULT_TIMEOUT) -> Any:
    """Run ``main_func(*args)`` once per process. Under torchrun the process group comes from the
    environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT) and the counts given here are ignored."""
    if _under_torchrun():
        world = int(os.environ["WORLD_SIZE"])
        if world > 1 and not dist.is_initialized():
            local_rank = int(os.environ.get("LOCAL_RANK", 0))
            if torch.cuda.is_available():
                torch.cuda.set_device(local_rank)
            dist.init_process_group(_backend(), init_method="env://", timeout=timeout)
        ok = False
        try:
            out = main_func(*args)
            ok = True
            return out
        finally:
            if world > 1 and dist.is_initialized():
                _tear_down(ok)
    num_gpus_per_machine = max(int(num_gpus_per_machine), 1)
    world_size = num_machines * num_gpus_per_machine
    if world_size == 1:
        return main_func(*args)
    if torch.cuda.is_available() and num_gpus_per_machine > torch.cuda.device_count():
        raise ValueError(f"--num-gpus {num_gpus_per_machine} but only {torch.cuda.device_count()} CUDA devices are visible.")
    if not dist_url or dist_url == "auto":
        if num_machines != 1:
            raise ValueError("--dist-url auto only works on one machine; give tcp://<host>:<port> for multi-machine jobs.")
        dist_url = f"tcp://127.0.0.1:{_find_free_port()}"
    if num_machines > 1 and dist_url.startswith("file://"):
        logging.getLogger(__name__).warning("file:// init between machines needs a shared file system.")
    mp.start_processes(_distributed_worker, nprocs=num_gpus_per_machine,
                       args=(main_func, world_size, num_gpus_per_machine, machine_rank, dist_url, args, timeout),
                       daemon=False, start_method="spawn")
    return None


def _distributed_worker(local_rank: int, main_func, world_size: int, num_per_machine: int, machine_rank: int,
                        dist_url: str, args: tuple, timeout: datetime.timedelta) -> None:
    rank = machine_rank * num_per_machine + local_rank
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(local_rank),
                      LOCAL_WORLD_SIZE=str(num_per_machine))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
    dist.init_process_group(_backend(), init_method=dist_url, world_size=world_size, rank=rank, timeout=timeout)
    ok = False
    try:
        dist.barrier()
        main_func(*args)
        ok = True
    finally:
        _tear_down(ok)


def _tear_down(finished: bool) -> None:
    """Destroy the process group, after a barrier when this rank finished normally: a rank that tears
    its group down and exits while another still talks to it can abort that one at exit (GLOO:
    "terminate called without an active exception", seen once in the suite). After an error there is
    no barrier: the other ranks may never reach it."""
    if finished:
        dist.barrier()
    dist.destroy_process_group()
