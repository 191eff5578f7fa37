"""Default attribute names and the lookup interface every attribute reader implements."""
from __future__ import annotations

from typing import Protocol

import numpy as np

__all__ = ["SYSU_ATTRIBUTE_NAMES", "AttributeTable", "unknown"]

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
