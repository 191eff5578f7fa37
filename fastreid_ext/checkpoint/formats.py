"""Checkpoint formats of other code bases, registered by the code that loads them.

A model maps a foreign format's names itself (``remap_checkpoint_keys``); the format is registered
here too (:func:`register_checkpoint_format`, next to that mapping), so that when *another* model is
given such a file the checkpointer says which format it is and which model loads it, instead of
hundreds of missing and unexpected keys. The checkpointer knows no format by name.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

__all__ = ["CheckpointFormat", "register_checkpoint_format", "registered_formats", "foreign_format"]


@dataclass(frozen=True)
class CheckpointFormat:
    name: str
    description: str  # "a community AGW checkpoint (embed_net with non-local blocks, keys NL_*)"
    detect: Callable[[dict], bool]  # on a state dict the model did not map
    expected: str  # which config loads it, e.g. "MODEL.META_ARCHITECTURE: AGWBaseline with ..."


_FORMATS: dict[str, CheckpointFormat] = {}


def register_checkpoint_format(fmt: CheckpointFormat) -> CheckpointFormat:
    """Idempotent per name (a plugin imported twice registers the same format again)."""
    _FORMATS[fmt.name] = fmt
    return fmt


def registered_formats() -> list[CheckpointFormat]:
    return list(_FORMATS.values())


def foreign_format(state_dict: dict) -> CheckpointFormat | None:
    """The first registered format that recognises ``state_dict`` (registration order)."""
    return next((f for f in _FORMATS.values() if f.detect(state_dict)), None)
