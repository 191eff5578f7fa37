"""Reader of the released SYSU-MM01 per-camera attribute files ``cam{k}_att.mat``.

Each file holds ``cam{k}_att``, an (n_attributes, N_k) 0/1 array indexed by column ``pid-1``, with
per-camera values: the same identity may be annotated differently in two cameras. N_k differs per
camera (real data: 332/332/533/533/533/333), so pid 333 is past the last column of cam1/cam2, and
some columns are placeholders (all zeros or all ones). ``DATASETS.ATTRIBUTES.FALLBACK`` decides:

* ``other_camera`` (default): use the first camera of the same modality, then of the other one,
  whose column is in range and not a placeholder; if none, the vector is unknown (mask False).
* ``zeros``: placeholder or out-of-range columns become unknown (zeros, mask False).
* ``as_is``: placeholder columns are used as annotated (reference fidelity); out of range → unknown.
"""
from __future__ import annotations

import logging
import os
from collections import Counter

import numpy as np
import scipy.io as sio

from ...utils.errors import UserError, UserFileNotFoundError
from .names import SYSU_ATTRIBUTE_NAMES, unknown

__all__ = ["SysuMatAttributes", "FALLBACKS"]

FALLBACKS = ("other_camera", "zeros", "as_is")
logger = logging.getLogger(__name__)


def load_camera_matrix(path: str, camid: int) -> np.ndarray:
    """The (n, N_k) 0/1 matrix stored as ``cam{camid}_att`` in ``path``, validated."""
    if not os.path.isfile(path):
        raise UserFileNotFoundError(f"SYSU attribute file not found: {path} (expected cam{camid}_att.mat holding 'cam{camid}_att').")
    key = f"cam{camid}_att"
    try:
        mat = sio.loadmat(path)
    except Exception as e:  # scipy raises several types for broken files
        raise UserError(f"Cannot read SYSU attribute file {path}: {e}") from e
    if key not in mat:
        found = sorted(k for k in mat if not k.startswith("__"))
        raise UserError(f"{path}: variable '{key}' not found (variables: {found}).")
    arr = np.asarray(mat[key])
    if arr.ndim != 2:
        raise UserError(f"{path}: '{key}' has shape {arr.shape}, expected a 2-D array (n_attributes, n_ids).")
    bad = np.setdiff1d(np.unique(arr), [0, 1])
    if bad.size:
        raise UserError(f"{path}: '{key}' must hold 0/1 values, found {bad[:5].tolist()}.")
    return arr.astype(np.float32)


class SysuMatAttributes:
    """Per-camera attribute lookup with bounds check, placeholder detection and fallback."""

    def __init__(self, folder: str, cameras: dict[int, str], names=(), fallback: str = "other_camera"):
        """``cameras`` maps camid → modality ("visible"/"infrared"); ``names`` [] = SYSU defaults."""
        if fallback not in FALLBACKS:
            raise UserError(f"DATASETS.ATTRIBUTES.FALLBACK is '{fallback}', expected one of {FALLBACKS}.")
        self.folder = folder
        self.fallback = fallback
        self.cameras = dict(sorted(cameras.items()))
        self.matrices = {c: load_camera_matrix(os.path.join(folder, f"cam{c}_att.mat"), c) for c in self.cameras}
        rows = {c: m.shape[0] for c, m in self.matrices.items()}
        expected_rows = len(names) if names else rows[next(iter(rows))]
        for c, m in self.matrices.items():
            if m.shape[0] != expected_rows:
                raise UserError(
                    f"{os.path.join(folder, f'cam{c}_att.mat')}: shape {m.shape} found, expected "
                    f"({expected_rows}, N) to match "
                    + ("DATASETS.ATTRIBUTES.NAMES" if names else f"cam{next(iter(rows))}_att.mat")
                )
        if names:
            self.names = list(names)
        elif expected_rows == len(SYSU_ATTRIBUTE_NAMES):
            self.names = list(SYSU_ATTRIBUTE_NAMES)
        else:
            self.names = [f"attr{i}" for i in range(expected_rows)]
        self.placeholders = {
            c: {int(i) + 1 for i in np.where((m.sum(0) == 0) | (m.sum(0) == m.shape[0]))[0]}
            for c, m in self.matrices.items()
        }
        self.fallback_counts: Counter = Counter()
        self.out_of_range: dict[int, set[int]] = {}  # camid -> pids past the last column of its matrix
        for c in self.cameras:
            logger.info(
                "cam%d_att.mat: shape %s, %d placeholder columns (all 0 or all 1) at pids %s",
                c, self.matrices[c].shape, len(self.placeholders[c]), sorted(self.placeholders[c]),
            )

    def column(self, pid: int, camid: int):
        """The annotated column of ``pid`` in camera ``camid`` or None when past the last column."""
        m = self.matrices.get(camid)
        if m is None or not 1 <= pid <= m.shape[1]:
            return None
        return m[:, pid - 1]

    def _usable(self, pid: int, camid: int) -> bool:
        return self.column(pid, camid) is not None and pid not in self.placeholders[camid]

    def _candidates(self, camid: int) -> list[int]:
        mod = self.cameras.get(camid)
        same = [c for c, m in self.cameras.items() if m == mod and c != camid]
        other = [c for c, m in self.cameras.items() if m != mod]
        return [camid] + same + other

    def lookup(self, pid: int, camid: int):
        n = len(self.names)
        col = self.column(pid, camid)
        if col is None and camid in self.matrices:
            self.out_of_range.setdefault(camid, set()).add(pid)
        if self.fallback == "as_is" or (col is not None and pid not in self.placeholders[camid]):
            if col is None:
                self.fallback_counts[(camid, "out_of_range→unknown")] += 1
                return unknown(n)
            return col.copy(), np.ones(n, bool)
        reason = "out_of_range" if col is None else "placeholder"
        if self.fallback == "other_camera":
            for c in self._candidates(camid)[1:]:
                if self._usable(pid, c):
                    self.fallback_counts[(camid, f"{reason}→cam{c}")] += 1
                    return self.column(pid, c).copy(), np.ones(n, bool)
        self.fallback_counts[(camid, f"{reason}→unknown")] += 1
        return unknown(n)

    def report(self) -> None:
        for camid, pids in sorted(self.out_of_range.items()):
            logger.warning(
                "cam%d_att.mat has %d columns (one per identity) but %d identities of this camera have a larger "
                "id (%s): the matrix has fewer columns than ids; their attributes are %s (DATASETS.ATTRIBUTES."
                "FALLBACK %s).", camid, self.matrices[camid].shape[1], len(pids), sorted(pids)[:10],
                "unknown" if self.fallback != "other_camera" else "taken from another camera where it has them",
                self.fallback)
        for (camid, what), count in sorted(self.fallback_counts.items()):
            logger.info("SYSU attributes, cam%d: %d images %s (FALLBACK=%s)", camid, count, what, self.fallback)
