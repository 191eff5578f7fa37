"""The start-of-run image check: every training and test image looked at once, before the first iteration.

Cheap enough for SYSU-MM01's ~34k images: no decoding, only each file's structure: the format's magic
bytes and header (image size > 0), and its end (JPEG end-of-image marker, PNG ``IEND`` chunk, BMP file
size from its header), which catches the usual damage: empty, truncated, or not an image at all. A format
without a structural check here is decoded in full (as the loader will). Files are read in parallel
threads (file reads release the GIL); the ranks of a multi-process job split the list.
"""
from __future__ import annotations

import logging
import os
import struct
import time
from concurrent.futures import ThreadPoolExecutor

from ..utils import comm
from ..utils.errors import UserError

__all__ = ["header_problem", "find_unreadable", "check_images"]

logger = logging.getLogger(__name__)

_TAIL = 2048  # bytes read at a file's end (a JPEG may carry padding after its end-of-image marker)


def _jpeg(head: bytes, tail: bytes) -> str | None:
    if not tail.rstrip(b"\x00").endswith(b"\xff\xd9"):
        return "truncated or corrupt JPEG (no end-of-image marker)"
    return None


def _png(head: bytes, tail: bytes) -> str | None:
    if len(head) < 24 or head[12:16] != b"IHDR":
        return "corrupt PNG header (no IHDR chunk)"
    w, h = struct.unpack(">II", head[16:24])
    if not w or not h:
        return f"PNG of size {w}x{h}"
    if b"IEND" not in tail[-12:]:
        return "truncated PNG (no IEND chunk)"
    return None


def _bmp(head: bytes, tail: bytes, size: int) -> str | None:
    if len(head) < 26:
        return "truncated BMP header"
    declared, offset = struct.unpack("<I", head[2:6])[0], struct.unpack("<I", head[10:14])[0]
    w, h = struct.unpack("<ii", head[18:26]) if struct.unpack("<I", head[14:18])[0] >= 40 else (1, 1)
    if not w or not h:
        return f"BMP of size {w}x{h}"
    if offset >= size or (declared and declared > size):
        return f"truncated BMP ({size} bytes, its header says {declared})"
    return None


def header_problem(path: str) -> str | None:
    """What is wrong with ``path`` as an image file, from its header and end only; None when it looks whole."""
    try:
        size = os.path.getsize(path)
        if size == 0:
            return "empty file"
        with open(path, "rb") as f:
            head = f.read(64)
            f.seek(max(size - _TAIL, 0))
            tail = f.read()
    except OSError as e:
        return f"cannot read: {e.strerror or e}"
    if head.startswith(b"\xff\xd8\xff"):
        return _jpeg(head, tail)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _png(head, tail)
    if head.startswith(b"BM"):
        return _bmp(head, tail, size)
    if path.lower().endswith((".jpg", ".jpeg", ".png", ".bmp")):
        return f"not a {os.path.splitext(path)[1][1:].upper()} file (its first bytes are {head[:8]!r})"
    from .common import UnreadableImageError, read_image  # another format: decode it as the loader will

    try:
        read_image(path)
    except UnreadableImageError as e:
        return str(e)
    return None


def find_unreadable(paths: list[str], workers: int | None = None) -> list[tuple[str, str]]:
    """``(path, problem)`` for every file of ``paths`` that ``header_problem`` refuses, in order."""
    workers = workers or max(1, min(16, (os.cpu_count() or 1) * 2))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        problems = list(pool.map(header_problem, paths, chunksize=64))
    return [(p, why) for p, why in zip(paths, problems) if why]


def check_images(cfg, paths: list[str], what: str) -> list[str]:
    """Check ``paths`` (shared between the ranks); unreadable ones fail the run with one line, or with
    INPUT.SKIP_UNREADABLE are returned for the caller to leave out. The cost is logged."""
    paths = sorted(set(paths))
    if not paths:
        return []
    start = time.perf_counter()
    rank, world = comm.get_rank(), comm.get_world_size()
    bad = find_unreadable(paths[rank::world])
    if world > 1:
        bad = sorted(b for part in comm.all_gather(bad) for b in part)
    seconds = time.perf_counter() - start
    cost = f"{len(paths)} {what} images checked in {seconds:.2f} s ({len(paths) / max(seconds, 1e-9):.0f}/s" + (
        f", {world} processes)" if world > 1 else ")")
    if not bad:
        logger.info("Start-of-run check: %s, all readable.", cost)
        return []
    first = f"{bad[0][0]} ({bad[0][1]})"
    if not cfg.INPUT.SKIP_UNREADABLE:
        raise UserError(f"{len(bad)} of {len(paths)} {what} images cannot be decoded, first: {first}. Replace the "
                        f"file(s), or set INPUT.SKIP_UNREADABLE True to leave them out.")
    logger.warning("Start-of-run check: %d of %d %s images are unreadable and will be skipped (INPUT.SKIP_UNREADABLE), "
                   "e.g. %s; %s.", len(bad), len(paths), what, first, cost)
    return [p for p, _ in bad]
