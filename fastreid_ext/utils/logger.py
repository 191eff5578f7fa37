"""Rank-aware logging: rank 0 logs to console and ``OUTPUT_DIR/log.txt``; other ranks to ``log.txt.rank<N>``."""
from __future__ import annotations

import functools
import logging
import os
import sys

__all__ = ["setup_logger"]

_FMT = "[%(asctime)s %(name)s]: %(message)s"
_DATEFMT = "%m/%d %H:%M:%S"
# Third-party loggers whose INFO lines are noise at normal verbosity (faiss: which SIMD build it loaded).
QUIET_LOGGERS = ("faiss.loader",)


@functools.lru_cache(maxsize=None)  # one set of handlers per (output, rank, name)
def setup_logger(output: str | None = None, distributed_rank: int = 0, name: str = "fastreid_ext",
                 abbrev_name: str | None = None) -> logging.Logger:
    """Configure ``name`` (and its children). ``output``: a folder (→ ``log.txt``) or a ``.txt``/``.log`` file."""
    logger = logging.getLogger(name)
    logger.setLevel(logging.DEBUG)
    for quiet in QUIET_LOGGERS:
        logging.getLogger(quiet).setLevel(logging.WARNING)
    logger.propagate = False
    abbrev = abbrev_name or ("fre" if name == "fastreid_ext" else name)
    if distributed_rank == 0:
        ch = logging.StreamHandler(stream=sys.stdout)
        ch.setLevel(logging.INFO)
        ch.setFormatter(logging.Formatter(_FMT.replace("%(name)s", abbrev), datefmt=_DATEFMT))
        logger.addHandler(ch)
    if output:
        filename = output if output.endswith((".txt", ".log")) else os.path.join(output, "log.txt")
        if distributed_rank > 0:
            filename = f"{filename}.rank{distributed_rank}"
        os.makedirs(os.path.dirname(os.path.abspath(filename)), exist_ok=True)
        fh = logging.FileHandler(filename, mode="a")
        fh.setLevel(logging.DEBUG)
        fh.setFormatter(logging.Formatter(_FMT, datefmt=_DATEFMT))
        logger.addHandler(fh)
    return logger
