"""What produced a run, so a finished run is reused only when the same thing would be run again.

A record holds the resolved config's hash (paths that only say where files live blanked), the git
commit and whether the tree differed from it (with a hash of that difference), the thread count and
the torch version. :func:`differences` names what differs between a recorded run and the one about to
run; a commit counts as different only when the code differs (changes confined to ``IGNORED_PATHS``,
the committed results and documentation, do not change what a run computes).
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
from importlib import metadata

from ..checkpoint import atomic_write_text

__all__ = ["config_sha256", "git_state", "run_record", "differences", "read_record", "write_record", "IDENTITY_FIELDS",
           "IGNORED_PATHS"]

# Paths whose changes do not change a run: the committed per-run summaries and the documentation.
IGNORED_PATHS = ("bench/results", "docs", "*.md")
# The fields a reuse must agree on (the others are information: wall time, CPU time, command).
IDENTITY_FIELDS = ("config_sha256", "commit", "dirty", "diff_sha256", "threads", "torch", "data")


def config_sha256(cfg, blank=("OUTPUT_DIR", "DATASETS.ROOT")) -> str:
    """sha256 of the resolved config's yaml with the ``blank`` keys (where files live) emptied."""
    cfg = cfg.clone()
    cfg.defrost()
    for key in blank:
        node, name = cfg, key
        while "." in name:
            head, name = name.split(".", 1)
            node = node[head]
        node[name] = ""
    return hashlib.sha256(cfg.dump().encode()).hexdigest()


def _git(repo: str, *args: str) -> str | None:
    try:
        return subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None


def _pathspec() -> list[str]:
    return ["--", ".", *[f":(exclude){p}" for p in IGNORED_PATHS]]


def git_state(repo: str) -> dict:
    """``{"commit", "dirty", "diff_sha256"}`` of ``repo`` (commit None outside a git checkout); dirty
    counts tracked changes and untracked files outside ``IGNORED_PATHS``."""
    head = _git(repo, "rev-parse", "HEAD")
    if head is None:
        return {"commit": None, "dirty": None, "diff_sha256": None}
    status = _git(repo, "status", "--porcelain", *_pathspec()) or ""
    diff = _git(repo, "diff", "HEAD", *_pathspec()) or ""
    dirty = bool(status.strip())
    return {"commit": head.strip(), "dirty": dirty,
            "diff_sha256": hashlib.sha256((diff + status).encode()).hexdigest() if dirty else None}


def torch_version() -> str | None:
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return None


def run_record(cfg, repo: str, threads: int, data: dict | None = None) -> dict:
    """The identity of a run about to start (``IDENTITY_FIELDS``)."""
    return {"config_sha256": config_sha256(cfg), **git_state(repo), "threads": int(threads),
            "torch": torch_version(), "data": dict(data or {})}


def _same_code(repo: str, old: str | None, new: str | None) -> bool:
    if old == new:
        return True
    if not old or not new:
        return False
    changed = _git(repo, "diff", "--name-only", old, new, *_pathspec())
    return changed is not None and not changed.strip()


def differences(recorded: dict | None, current: dict, repo: str) -> list[str]:
    """What differs between a recorded run and ``current``, one phrase per field ([] when none)."""
    if recorded is None:
        return ["no run record (run.json) beside its results"]
    out = []
    for field in IDENTITY_FIELDS:
        old, new = recorded.get(field), current.get(field)
        if field == "commit" and _same_code(repo, old, new):
            continue
        if field == "diff_sha256" and not (recorded.get("dirty") or current.get("dirty")):
            continue
        if old != new:
            short = {"config_sha256": 12, "commit": 10, "diff_sha256": 12}.get(field)
            show = (lambda v: str(v)[:short] if v and short else str(v))
            out.append(f"{field} {show(old)} -> {show(new)}")
    return out


def read_record(path: str) -> dict | None:
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def write_record(path: str, record: dict) -> None:
    atomic_write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", path)
