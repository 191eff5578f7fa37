"""Who writes into a run folder: one live run per OUTPUT_DIR, and ``--eval-only`` in a subfolder of its own.

Two runs into one OUTPUT_DIR would mix their records (config.yaml of one seed beside the weights of the
other, interleaved metrics.json), so a run holds ``OUTPUT_DIR/run.lock`` (host and pid of its main
process) from before its first write to its end; a second run stops with one line naming the holder.
The kernel releases the lock of a killed run; the next run takes it over with a warning.

Evaluating again must not rewrite the training record, so ``--eval-only`` writes into
``OUTPUT_DIR/inference/<what was evaluated>/`` (detectron2's ``OUTPUT_DIR/inference``), named after the
weights file and the test-time options, with its own config.yaml, results.json and log.txt.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os

import yaml

from ..utils.errors import UserError
from ..utils.file_lock import FileLock

__all__ = ["RUN_LOCK", "hold_run_folder", "eval_folder_name", "eval_output_dir", "RunFolderBusyError"]

logger = logging.getLogger(__name__)

RUN_LOCK = "run.lock"
# test-time switches named in an evaluation folder's name, in this order
_NAMED_OPTIONS = (("TEST.FLIP.ENABLED", "flip"), ("TEST.AQE.ENABLED", "aqe"), ("TEST.RERANK.ENABLED", "rerank"))
# what else makes two evaluations of one checkpoint differ (a short hash of the differences is added)
_TEST_TIME_KEYS = ("TEST", "DATASETS.TESTS", "DATASETS.VAL", "INPUT.SIZE_TEST", "INPUT.SKIP_UNREADABLE")


class RunFolderBusyError(UserError):
    """OUTPUT_DIR is held by a live run."""


def hold_run_folder(folder: str) -> FileLock:
    """Take ``folder``'s run lock (without waiting); a dead holder's lock is taken over, the caller logs
    ``lock.previous`` once logging is set up (see ``report_takeover``)."""
    lock = FileLock(os.path.join(folder, RUN_LOCK))
    try:
        return lock.acquire(wait=False)
    except BlockingIOError:
        holder = lock.holder()
        dead = " (its pid is gone but a child process of it still holds the lock)" if holder.alive() is False else ""
        raise RunFolderBusyError(
            f"OUTPUT_DIR '{folder}' is in use by a live run: {holder.describe()}{dead}, since "
            f"{holder.get('since', '?')}; wait for it to end or set another OUTPUT_DIR.") from None


def report_takeover(lock: FileLock, folder: str) -> None:
    if lock.previous:
        logger.warning("OUTPUT_DIR '%s' was held by %s, which is no longer running (killed?); this run takes it "
                       "over.", folder, lock.previous.describe())


def _get(cfg, dotted: str):
    node = cfg
    for part in dotted.split("."):
        node = node[part]
    return node


def _flat(node, prefix: str) -> dict:
    if isinstance(node, dict):
        out: dict = {}
        for k, v in node.items():
            out.update(_flat(v, f"{prefix}.{k}"))
        return out
    return {prefix: list(node) if isinstance(node, (list, tuple)) else node}


def eval_folder_name(cfg, run_config: dict | None = None) -> str:
    """``<weights stem>[+flip][+aqe][+rerank][+<hash>]``: the hash covers the other test-time values that
    differ from ``run_config`` (the training run's config.yaml, when there is one)."""
    stem = os.path.splitext(os.path.basename(cfg.MODEL.WEIGHTS.rstrip("/")))[0] or "weights"
    name = stem + "".join(f"+{tag}" for key, tag in _NAMED_OPTIONS if _get(cfg, key))
    if run_config:
        named = {k for k, _ in _NAMED_OPTIONS}
        ours = {k: v for key in _TEST_TIME_KEYS for k, v in _flat(_get(cfg, key), key).items() if k not in named}
        theirs: dict = {}
        for key in _TEST_TIME_KEYS:
            try:
                theirs.update(_flat(_get(run_config, key), key))
            except (KeyError, TypeError):
                pass
        diff = {k: v for k, v in ours.items() if theirs.get(k, v) != v}
        if diff:
            name += "+" + hashlib.sha1(json.dumps(diff, sort_keys=True, default=str).encode()).hexdigest()[:8]
    return name


def eval_output_dir(cfg) -> str:
    """Where ``--eval-only`` writes: ``OUTPUT_DIR/inference/<eval_folder_name>``."""
    run_config = None
    path = os.path.join(cfg.OUTPUT_DIR, "config.yaml")
    if os.path.isfile(path):
        try:
            with open(path) as f:
                run_config = yaml.safe_load(f)
        except (OSError, yaml.YAMLError):
            run_config = None
    return os.path.join(cfg.OUTPUT_DIR, "inference", eval_folder_name(cfg, run_config if isinstance(run_config, dict)
                                                                      else None))
