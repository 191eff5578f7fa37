"""Reader of the released one-hot spreadsheet ``regdb_attribute/label_finished.xlsx``.

Despite its folder name it annotates the 96 SYSU-MM01 *test* ids (docs/protocols.md#xlsx-attributes): header ``ID`` +
26 one-hot columns in 11 groups. Only six of the 8 PAENet attributes can be expressed; the rest
(and any group that is empty or has several cells set, e.g. row '0085') are unknown.
Annotations are per identity, the same in every camera.
"""
from __future__ import annotations

import logging
import os

import numpy as np
import openpyxl

from ...utils.errors import UserError, UserFileNotFoundError
from .names import SYSU_ATTRIBUTE_NAMES, stored_or_unknown, unknown

__all__ = ["OneHotXlsxAttributes", "XLSX_GROUPS", "XLSX_MAPPING"]
logger = logging.getLogger(__name__)

# Column indices (0 = ID) of the one-hot groups that matter, in the released column order.
XLSX_GROUPS = {
    "gender": (1, 2),  # male, female
    "hair": (7, 8),  # long, short
    "trousers": (12, 13, 14),  # short, mid, long
    "backpack": (17, 18),  # yes, no
    "shoulder_bag": (19, 20),  # yes, no
    "glasses": (25, 26),  # yes, no
}
# PAENet attribute → (group, column meaning 1).
XLSX_MAPPING = {
    "gender": ("gender", 2),
    "hair_length": ("hair", 7),
    "glasses": ("glasses", 25),
    "lower_body_length": ("trousers", 14),
    "backpack": ("backpack", 17),
    "satchel": ("shoulder_bag", 19),
}
EXPECTED_COLUMNS = 27


class OneHotXlsxAttributes:
    def __init__(self, path: str, names=()):
        if not os.path.isfile(path):
            raise UserFileNotFoundError(f"Attribute spreadsheet not found: {path} (expected the released label_finished.xlsx).")
        self.path = path
        self.names = list(names) if names else list(SYSU_ATTRIBUTE_NAMES)
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        ws = wb[wb.sheetnames[0]]
        rows = [r for r in ws.iter_rows(values_only=True) if any(v is not None for v in r)]
        wb.close()
        if not rows or len(rows[0]) < EXPECTED_COLUMNS or str(rows[0][0]).strip() != "ID":
            shape = (len(rows), len(rows[0]) if rows else 0)
            raise UserError(
                f"{path}: sheet '{ws.title}' has shape {shape} with header {rows[0][:3] if rows else []}..., "
                f"expected a header row 'ID' + 26 one-hot columns ({EXPECTED_COLUMNS} columns)."
            )
        self.malformed: dict[int, list[str]] = {}
        self._by_pid: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for rowno, row in enumerate(rows[1:], start=2):
            try:
                pid = int(str(row[0]).strip())
            except ValueError as e:
                raise UserError(f"{path}, row {rowno}: ID '{row[0]}' is not an integer identity.") from e
            cells = [1 if v not in (None, "", 0) else 0 for v in row[:EXPECTED_COLUMNS]]
            valid = {g: sum(cells[i] for i in cols) == 1 for g, cols in XLSX_GROUPS.items()}
            bad = [g for g, ok in valid.items() if not ok]
            if bad:
                self.malformed[pid] = bad
            vals, mask = unknown(len(self.names))
            for j, name in enumerate(self.names):
                if name in XLSX_MAPPING:
                    group, col = XLSX_MAPPING[name]
                    if valid[group]:
                        vals[j], mask[j] = cells[col], True
            self._by_pid[pid] = (vals, mask)
        if self.malformed:
            logger.warning("%s: one-hot groups empty or multiply set (unknown): %s", path, self.malformed)
        self._missing: set[int] = set()

    @property
    def pids(self) -> list[int]:
        return sorted(self._by_pid)

    def lookup(self, pid: int, camid: int):
        return stored_or_unknown(self._by_pid.get(pid), pid, self._missing, len(self.names))

    def report(self) -> None:
        if self._missing:
            logger.warning("%s: %d identities not in the spreadsheet (attributes unknown).", self.path, len(self._missing))
