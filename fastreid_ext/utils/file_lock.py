"""Inter-process locks on a path: one writer per synthetic dataset, one live run per OUTPUT_DIR.

A lock is the file ``<target>.lock`` (or ``<folder>/.run.lock``) held with ``fcntl.flock`` and holding
``{"host", "pid", "since"}`` of its holder. The kernel drops a flock when its holder dies, so the lock of
a killed run never blocks anyone: the next process gets the lock, finds the dead holder's name in the
file (``os.kill(pid, 0)`` says it is gone when on the same host) and reports the takeover. A lock file is
removed on release; a process that acquired a file already unlinked by its releaser starts over, so two
processes never hold two different files of one path.
"""
from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
import time
from typing import Callable

__all__ = ["FileLock", "LockHolder", "pid_alive"]

logger = logging.getLogger(__name__)

_NO_FLOCK = tuple(getattr(errno, n) for n in ("ENOLCK", "EOPNOTSUPP", "ENOSYS", "ENOTSUP") if hasattr(errno, n))


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (a process of another user counts as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


class LockHolder(dict):
    """``{"host", "pid", "since"}`` of a lock file (``{}`` when empty or unreadable)."""

    def describe(self) -> str:
        if not self:
            return "an unknown process"
        return f"host {self.get('host', '?')} pid {self.get('pid', '?')}"

    def alive(self) -> bool | None:
        """True/False on this host; None when the holder is unknown or on another host."""
        if not self or self.get("host") != socket.gethostname():
            return None
        return pid_alive(int(self.get("pid", -1)))


def _read_holder(fd: int) -> LockHolder:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        raw = os.read(fd, 4096)
        data = json.loads(raw.decode()) if raw.strip() else {}
        return LockHolder(data) if isinstance(data, dict) else LockHolder()
    except (OSError, ValueError):
        return LockHolder()


class FileLock:
    """``with FileLock(path): ...``; ``acquire(wait=False)`` raises :class:`BlockingIOError` naming the holder.

    ``on_wait(holder)`` is called once when the lock is busy and ``wait`` is true; ``on_stale(holder)``
    when the lock file names a holder that is gone (killed without releasing).
    """

    def __init__(self, path: str, on_wait: Callable[[LockHolder], None] | None = None,
                 on_stale: Callable[[LockHolder], None] | None = None, poll_s: float = 0.2):
        self.path = path
        self.on_wait = on_wait
        self.on_stale = on_stale
        self.poll_s = poll_s
        self._fd: int | None = None
        self.previous = LockHolder()  # the stale holder that was taken over, if any

    @property
    def held(self) -> bool:
        return self._fd is not None

    def holder(self) -> LockHolder:
        """Who holds the lock now (read without locking; ``{}`` when free)."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return LockHolder()
        try:
            return _read_holder(fd)
        finally:
            os.close(fd)

    def acquire(self, wait: bool = True, timeout: float | None = None) -> "FileLock":
        if self._fd is not None:
            return self
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        start, told = time.monotonic(), False
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                if e.errno in _NO_FLOCK:  # a file system without locks: go on unprotected, and say so
                    logger.warning("%s: this file system does not support file locks (%s); going on without "
                                   "protection against a second process.", self.path, e.strerror)
                    self.previous = _read_holder(fd)
                    self._fd = fd
                    return self
                holder = _read_holder(fd)
                os.close(fd)
                if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                if not wait or (timeout is not None and time.monotonic() - start > timeout):
                    raise BlockingIOError(errno.EWOULDBLOCK, f"{self.path} is held by {holder.describe()}",
                                          self.path) from None
                if not told and self.on_wait is not None:
                    self.on_wait(holder)
                told = True
                time.sleep(self.poll_s)
                continue
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # the previous holder removed the file after we opened it: try the new one
                os.close(fd)
                continue
            self.previous = _read_holder(fd)
            if self.previous and self.on_stale is not None:
                self.on_stale(self.previous)
            me = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.strftime("%Y-%m-%dT%H:%M:%S")}
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, json.dumps(me).encode())
            os.fsync(fd)
            self._fd = fd
            return self

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.remove(self.path)  # still locked: a waiter re-checks the inode and opens a fresh file
        except FileNotFoundError:
            pass
        finally:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> "FileLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
