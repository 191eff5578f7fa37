"""How many intra-op threads this process should use, from the CPUs it may actually run on.

torch starts one intra-op thread per host core. In a container whose CPU quota is below the host's
core count, or beside another busy process, more threads than the quota makes every parallel
kernel wait for descheduled threads (the SYSU metric kernel ran 14x slower with two threads and one
busy core than with one thread). The quota is the smallest of: the affinity mask
(``os.sched_getaffinity``), the cgroup v2 ``cpu.max`` and the cgroup v1 ``cpu.cfs_quota_us`` /
``cpu.cfs_period_us`` (rounded up, at least 1); shared by the processes of this machine in a
distributed run. ``NUM_THREADS`` (> 0) overrides it; so does an explicit ``OMP_NUM_THREADS`` in the
environment (a choice too, e.g. of a job script or a test that compares runs thread for thread).
"""
from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
S = TypeVar("S")

__all__ = ["ThreadChoice", "affinity_cpus", "cgroup_cpu_limit", "choose_threads", "apply_num_threads", "intra_op_threads",
           "ThreadProbe", "per_thread_intra_op", "map_in_order"]

logger = logging.getLogger(__name__)

_CGROUP_ROOT = "/sys/fs/cgroup"


@dataclass(frozen=True)
class ThreadChoice:
    """The chosen count and what it was chosen from (for the log line)."""

    threads: int
    reason: str
    sources: dict = field(default_factory=dict)


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except (OSError, UnicodeDecodeError):
        return None


def affinity_cpus() -> int | None:
    """CPUs in this process's affinity mask; None where the platform cannot tell."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def _cgroup_v2(root: str) -> float | None:
    text = _read(os.path.join(root, "cpu.max"))  # "<quota> <period>" or "max <period>"
    if not text:
        return None
    parts = text.split()
    if not parts or parts[0] == "max":
        return None
    try:
        quota = float(parts[0])
        period = float(parts[1]) if len(parts) > 1 else 100000.0
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _cgroup_v1(root: str) -> float | None:
    for folder in ("cpu,cpuacct", "cpu", "cpuacct,cpu", ""):
        base = os.path.join(root, folder) if folder else root
        quota, period = _read(os.path.join(base, "cpu.cfs_quota_us")), _read(os.path.join(base, "cpu.cfs_period_us"))
        if quota is None or period is None:
            continue
        try:
            q, p = float(quota), float(period)
        except ValueError:
            return None
        return q / p if q > 0 and p > 0 else None  # quota -1: unlimited
    return None


def cgroup_cpu_limit(root: str = _CGROUP_ROOT) -> float | None:
    """The CPU quota of this process's cgroup in CPUs (e.g. 1.5), or None when unlimited or unreadable.
    ``root``: the cgroup mount (tests point it at a fake folder)."""
    limits = [x for x in (_cgroup_v2(root), _cgroup_v1(root)) if x is not None]
    return min(limits) if limits else None


def choose_threads(override: int = 0, local_processes: int = 1, cgroup_root: str = _CGROUP_ROOT,
                   affinity: int | None = -1, host_cpus: int | None = -1, env: dict | None = None) -> ThreadChoice:
    """Intra-op threads for one process: ``override`` when > 0, else a positive ``OMP_NUM_THREADS`` of
    ``env`` (default: the process environment), else the smallest of affinity and cgroup quota divided
    by ``local_processes`` (at least 1). ``affinity`` / ``host_cpus``: -1 reads them from the system
    (tests pass values)."""
    if override < 0:
        raise ValueError(f"NUM_THREADS is {override}; expected 0 (auto) or a positive count.")
    if override > 0:
        return ThreadChoice(int(override), f"NUM_THREADS {override} (override)", {"override": int(override)})
    omp = (os.environ if env is None else env).get("OMP_NUM_THREADS", "").strip()
    if omp.isdigit() and int(omp) > 0:
        return ThreadChoice(int(omp), f"OMP_NUM_THREADS {omp} (environment)", {"OMP_NUM_THREADS": int(omp)})
    if affinity == -1:
        affinity = affinity_cpus()
    if host_cpus == -1:
        host_cpus = os.cpu_count()
    quota = cgroup_cpu_limit(cgroup_root)
    sources: dict = {}
    if host_cpus:
        sources["host cpus"] = int(host_cpus)
    if affinity:
        sources["affinity"] = int(affinity)
    if quota is not None:
        sources["cgroup quota"] = round(quota, 2)
    candidates = [v for k, v in sources.items() if k != "host cpus"] or [sources.get("host cpus", 1)]
    available = max(1, math.ceil(min(candidates) - 1e-9))
    procs = max(int(local_processes), 1)
    threads = max(1, available // procs)
    limiting = min((k for k in sources if k != "host cpus"), key=lambda k: sources[k], default="host cpus")
    reason = f"{available} CPUs available ({limiting})"
    if procs > 1:
        reason += f" shared by {procs} local processes"
    return ThreadChoice(threads, reason, sources)


def apply_num_threads(override: int = 0, local_processes: int | None = None, cgroup_root: str = _CGROUP_ROOT,
                      load: float | None = None) -> ThreadChoice:
    """Choose (``choose_threads``), call ``torch.set_num_threads`` and log what and why; run once at setup.
    ``local_processes``: None = LOCAL_WORLD_SIZE (set by ``launch`` and torchrun), else 1. ``load``: the
    1-minute load average (None: read it); when the machine is already busier than the automatic
    choice assumes, the log says how to opt out (the quota cannot see other processes)."""
    import torch

    if local_processes is None:
        local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    choice = choose_threads(override, local_processes, cgroup_root)
    before = torch.get_num_threads()
    torch.set_num_threads(choice.threads)
    seen = ", ".join(f"{k} {v}" for k, v in choice.sources.items())
    logger.info("Intra-op threads: %d (was %d): %s [%s]", choice.threads, before, choice.reason, seen)
    if load is None and hasattr(os, "getloadavg"):
        load = os.getloadavg()[0]
    if not override and choice.threads > 1 and load is not None and load >= choice.threads * max(local_processes, 1):
        logger.warning("The load average (%.1f) already fills the %d CPUs counted for this run: parallel kernels can "
                       "run many times slower than on one thread beside busy processes; set NUM_THREADS 1 if "
                       "evaluation or training steps are slow.", load, choice.threads * max(local_processes, 1))
    return choice


@contextlib.contextmanager
def intra_op_threads(threads: int):
    """torch's intra-op threads set to ``threads`` inside the block and restored after it (0: left as
    they are)."""
    import torch

    before = torch.get_num_threads()
    if threads <= 0 or threads == before:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class ThreadProbe:
    """Intra-op threads for a kernel that one evaluation runs many times (the metric kernel once per
    query chunk and trial, re-ranking once per trial gallery). A positive ``setting`` is used as it
    is. ``0`` (auto) runs the first call on the run's threads (a warm-up: it pays the buffers' first
    touch), tries the run's threads and one thread on the next two and keeps the faster per unit of
    work: kernels made of many short memory-bound passes gain from a second thread
    on an idle machine (SYSU multi-shot evaluation 1.53x instead of 1.95x its matrix product) and wait
    at every barrier for a descheduled thread on a busy one (4.8x slower than one thread beside other
    jobs), which no quota or affinity shows beforehand. One probe per evaluation run, so the choice
    follows the load of that run."""

    def __init__(self, setting: int = 0, run_threads: int | None = None):
        import torch

        self.setting = int(setting)
        run = torch.get_num_threads() if run_threads is None else int(run_threads)
        self._candidates = [run, 1] if run > 1 else [1]
        self._seconds_per_work: dict[int, float] = {}
        self._warm = False

    def choose(self) -> int:
        if self.setting > 0:
            return self.setting
        for n in self._candidates:
            if n not in self._seconds_per_work:
                return n
        return min(self._seconds_per_work, key=self._seconds_per_work.get)

    def record(self, threads: int, seconds: float, work: float) -> None:
        if self.setting > 0 or threads in self._seconds_per_work:
            return
        if not self._warm:
            self._warm = True
            return
        self._seconds_per_work[threads] = seconds / max(float(work), 1.0)

    @contextlib.contextmanager
    def run(self, work: float):
        """Run the block on :meth:`choose`'s threads and record its time per unit of ``work``."""
        n = self.choose()
        t0 = time.perf_counter()
        with intra_op_threads(n):
            yield n
        self.record(n, time.perf_counter() - t0, work)


def per_thread_intra_op() -> bool:
    """Whether ``torch.set_num_threads`` in one Python thread leaves the others' threads alone: true
    with the OpenMP backend (a per-thread setting), which the workers of :func:`map_in_order` need."""
    import torch

    return "parallel backend: OpenMP" in torch.__config__.parallel_info()


def map_in_order(jobs: Iterable[Callable[[S], T]], workers: int, state: Callable[[], S]) -> Iterator[T]:
    """``job(worker_state)`` for each job, results in the jobs' order. ``workers > 1``: that many
    Python threads, each on ONE intra-op thread and with its own ``state()`` (work buffers), at most
    ``workers + 1`` jobs taken from ``jobs`` at a time (a lazy iterable stays lazy: memory is bounded).
    Independent jobs on single-threaded workers share no barrier, so a busy core slows one job
    instead of stalling every parallel pass (the collapse ``ThreadProbe`` works around), and the
    memory-bound serial passes of one job (histograms, prefix sums) overlap with another's.
    ``workers <= 1`` (or a torch whose thread setting is process-wide): in the calling thread, one
    ``state()`` for all jobs, exactly the sequential loop."""
    if workers <= 1 or not per_thread_intra_op():
        own = state()
        for job in jobs:
            yield job(own)
        return
    local = threading.local()

    def run(job):
        if not hasattr(local, "state"):
            import torch

            torch.set_num_threads(1)  # this worker thread's own setting (OpenMP): the caller's is untouched
            local.state = state()
        return job(local.state)

    pending: deque = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="map_in_order") as pool:
        try:
            for job in jobs:
                pending.append(pool.submit(run, job))
                if len(pending) > workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for f in pending:
                f.cancel()
