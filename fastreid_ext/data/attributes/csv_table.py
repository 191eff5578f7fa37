"""Reader of the simple attribute CSV users fill in for RegDB or their own data.

Format (documented in datasets/README.md)::

    pid,camid,gender,hair_length,...      <- header: 'pid', optional 'camid', then attribute names
    1,,1,0,...                            <- camid empty: this identity in every camera
    1,2,1,-1,...                          <- camid given: overrides the row above for camera 2

Values: 1, 0, or -1 (unknown). A pid with no row is unknown in every attribute.
"""
from __future__ import annotations

import csv
import logging
import os

import numpy as np

from ...utils.errors import UserError, UserFileNotFoundError
from .names import stored_or_unknown

__all__ = ["CsvAttributes"]
logger = logging.getLogger(__name__)


class CsvAttributes:
    def __init__(self, path: str, names=()):
        if not os.path.isfile(path):
            raise UserFileNotFoundError(f"Attribute CSV not found: {path} (expected header 'pid[,camid],a1,...,an').")
        self.path = path
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        if not rows or not rows[0] or rows[0][0].strip().lower() != "pid":
            found = rows[0] if rows else []
            raise UserError(f"{path}: line 1 must be a header 'pid[,camid],a1,...,an', found {found}.")
        header = [h.strip() for h in rows[0]]
        has_cam = len(header) > 1 and header[1].lower() == "camid"
        first = 2 if has_cam else 1
        file_names = header[first:]
        if names and len(names) != len(file_names):
            raise UserError(
                f"{path}: {len(file_names)} attribute columns found ({file_names}), expected {len(names)} "
                f"(DATASETS.ATTRIBUTES.NAMES = {list(names)})."
            )
        self.names = list(names) if names else file_names
        self._by_pid: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._by_pid_cam: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        for lineno, row in enumerate(rows[1:], start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise UserError(f"{path}, line {lineno}: {len(row)} fields, expected {len(header)} as in the header.")
            try:
                pid = int(row[0])
                cam = int(row[1]) if has_cam and row[1].strip() not in ("", "*") else None
                vals = np.array([int(v) for v in row[first:]], dtype=np.int64)
            except ValueError as e:
                raise UserError(f"{path}, line {lineno}: {e} (expected integers; -1 = unknown).") from e
            if np.setdiff1d(vals, [-1, 0, 1]).size:
                raise UserError(f"{path}, line {lineno}: values must be 1, 0 or -1, found {vals.tolist()}.")
            entry = (np.clip(vals, 0, 1).astype(np.float32), vals >= 0)
            (self._by_pid if cam is None else self._by_pid_cam)[(pid if cam is None else (pid, cam))] = entry
        self._missing: set[int] = set()

    def lookup(self, pid: int, camid: int):
        entry = self._by_pid_cam.get((pid, camid)) or self._by_pid.get(pid)
        return stored_or_unknown(entry, pid, self._missing, len(self.names))

    def report(self) -> None:
        if self._missing:
            logger.warning("%s: no row for %d identities (attributes unknown): %s", self.path, len(self._missing), sorted(self._missing)[:20])
