"""Installing generated data: under a lock, into a temp folder, renamed into place with its manifest.

Used by ``prepare_datasets`` (DATASETS.SYNTHETIC) and ``tools/make_synthetic.py``, so a folder that exists
is always complete: two runs asking for one dataset never write into one temp folder (the second
waits for the first, says so, and then uses its data), and a run killed while generating leaves only
``<folder>.generating`` (discarded by the next generation) and a lock the kernel has released.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
from typing import Callable

from ..utils.file_lock import FileLock

__all__ = ["install_generated", "generation_lock", "MANIFEST"]

logger = logging.getLogger(__name__)

MANIFEST = "SYNTHETIC.json"  # written into a generated folder: {"generator": ..., "options": {...}}


def generation_lock(folder: str) -> FileLock:
    """The lock of ``folder``'s generation: ``<folder>.lock`` beside it."""
    folder = os.path.abspath(folder)
    return FileLock(
        folder + ".lock",
        on_wait=lambda h: logger.info("Waiting for %s: %s is generating it (lock %s.lock).", folder, h.describe(), folder),
        on_stale=lambda h: logger.warning("Taking over the generation lock of %s from %s, which is no longer running.",
                                          folder, h.describe()))


def install_generated(folder: str, manifest: dict, generate: Callable[..., object], *, replace: bool = False,
                      check_existing: Callable[[str], None] | None = None, note: str = "") -> bool:
    """Generate ``folder`` unless it exists (then ``check_existing(folder)`` and reuse); True if written.

    ``generate(path, **manifest["options"])`` writes into ``<folder>.generating``; ``replace`` swaps an
    existing folder for the new data (the old one is removed only after the new one is in place);
    ``note`` is logged when generation starts.
    """
    folder = os.path.abspath(folder)
    with generation_lock(folder):
        if os.path.exists(folder) and not replace:
            if check_existing is not None:
                check_existing(folder)
            logger.info("Using %s (already generated).", folder)
            return False
        partial = folder + ".generating"
        if os.path.exists(partial):
            logger.info("Discarding %s, left by a generation that did not finish.", partial)
            shutil.rmtree(partial)
        logger.info("%s", note or f"Generating {folder}.")
        generate(partial, **manifest["options"])
        with open(os.path.join(partial, MANIFEST), "w") as f:
            json.dump(manifest, f, indent=1, sort_keys=True)
        old = None
        if os.path.exists(folder):
            old = f"{folder}.replaced-{os.getpid()}"
            os.replace(folder, old)
        os.replace(partial, folder)
        if old:
            shutil.rmtree(old, ignore_errors=True)
        return True
