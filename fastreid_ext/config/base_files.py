"""Where a ``_BASE_`` entry is looked for: beside the file that names it, then in the repository's
``configs/`` folder, so a user's YAML anywhere on disk can say ``_BASE_: Baseline/sysu.yml``.

``configs/`` is found from this package's location (``<repo>/fastreid_ext/config/`` → ``<repo>/configs``),
not from the working directory. A base written from the repository root (``configs/Baseline/sysu.yml``)
is also found there, so the paths printed in the README work from any folder.
"""
from __future__ import annotations

import os

__all__ = ["configs_dir", "base_candidates", "find_base"]

_REMOTE = ("https://", "http://")


def configs_dir() -> str:
    """The repository's ``configs/`` folder (it exists in a clone and in an editable install)."""
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.path.join(repo, "configs")


def base_candidates(base: str, referencing_file: str) -> list[str]:
    """The places ``base`` (as written in ``referencing_file``) may be, in the order they are tried."""
    base = os.path.expanduser(base)
    if base.startswith(_REMOTE) or os.path.isabs(base):
        return [base]
    root = configs_dir()
    out = [os.path.join(os.path.dirname(referencing_file), base), os.path.join(root, base)]
    first, _, rest = base.replace(os.sep, "/").partition("/")
    if first == os.path.basename(root) and rest:  # written relative to the repository root
        out.append(os.path.join(root, rest))
    return out


def find_base(base: str, referencing_file: str) -> tuple[str | None, list[str]]:
    """(the first existing candidate or None, every candidate tried)."""
    candidates = base_candidates(base, referencing_file)
    for cand in candidates:
        if cand.startswith(_REMOTE) or os.path.isfile(cand):
            return cand, candidates
    return None, candidates
