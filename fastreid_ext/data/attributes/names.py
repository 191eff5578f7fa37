"""Default attribute names, the lookup interface every attribute reader implements, and the lookup
results the readers share (unknown vectors, copies of stored rows)."""
from __future__ import annotations

from typing import Protocol

import numpy as np

__all__ = ["SYSU_ATTRIBUTE_NAMES", "AttributeTable", "unknown", "stored_or_unknown"]

# The 8 PAENet attributes in paper order (= the row order of the released SYSU .mat files).
# Polarity (value 1 means): female, long hair, wears glasses, long sleeves (unverified, see
# docs/protocols.md#sysu-attributes), dress/skirt, long lower-body clothing, backpack, satchel/shoulder bag.
SYSU_ATTRIBUTE_NAMES = (
    "gender",
    "hair_length",
    "glasses",
    "sleeve_length",
    "lower_body_type",
    "lower_body_length",
    "backpack",
    "satchel",
)


class AttributeTable(Protocol):
    """What a dataset asks of an attribute reader."""

    names: list[str]

    def lookup(self, pid: int, camid: int) -> tuple[np.ndarray, np.ndarray]:
        """(values float32 (n,), known-mask bool (n,)) of identity ``pid`` seen by camera ``camid``."""
        ...

    def report(self) -> None:
        """Log what had to be guessed (fallbacks, unknown identities) after the dataset was read."""
        ...


def unknown(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(n, np.float32), np.zeros(n, bool)


def stored_or_unknown(entry, pid: int, missing: set[int], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Copies of a stored (values, mask) row, so callers cannot change the table; with no row the
    unknown vector, and ``pid`` is noted in ``missing`` for the reader's report."""
    if entry is None:
        missing.add(pid)
        return unknown(n)
    return entry[0].copy(), entry[1].copy()
