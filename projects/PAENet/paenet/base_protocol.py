"""The two ways a base meta-architecture lets PAENet attach PAE + AAL (the extension point).

* ``PAENetBase`` (a single global feature: ``CrossModalBaseline``, ``AGWBaseline``, HCT (global)):
  the base gives its map, pooled and necked vectors; PAENet builds the identity feature f_id from the
  gated map with the base's ``pool``, its own neck, and calls ``losses(f_id, classifier(BNNeck(f_id)))``.
* ``PAENetMapBase`` (a base with its own heads on the map: DDAG's parts and graph, MPANet's patterns,
  the PCB stripes): PAE reads the backbone's last map, the region branch (Eq. 10) re-weights that map,
  and the base runs its OWN heads, losses and test features on the re-weighted map, so every term and
  schedule of the base stays. ``training_losses`` sees the whole batch (labels included: DDAG's graph
  adjacency); ``inference`` sees features only (the label-free eval path).

A base with every ``PAENetMapBase`` member attaches on the map; otherwise it needs the ``PAENetBase``
members, and one that has neither set is refused naming what it lacks.
"""
from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from fastreid_ext.utils.errors import UserError

__all__ = ["PAENetBase", "PAENetMapBase", "BASE_MEMBERS", "MAP_BASE_MEMBERS", "attaches_on_map",
           "check_base", "pae_width", "training_only_prefixes"]


@runtime_checkable
class PAENetBase(Protocol):
    """``extract`` → {"MAP", "POOL", "FC"}; ``pool`` the module turning a map into a vector (applied
    again to the identity map); ``classifier`` the identity classifier on the necked feature (or None);
    ``losses`` the base's own terms on (metric feature, logits, batch)."""

    feat_dim: int
    pool: nn.Module
    classifier: nn.Module | None
    device: torch.device

    def preprocess(self, batch: dict) -> dict: ...

    def extract(self, images: torch.Tensor, modality: torch.Tensor) -> dict[str, torch.Tensor]: ...

    def losses(self, features: torch.Tensor, logits: torch.Tensor | None, batch: dict) -> dict[str, torch.Tensor]: ...


@runtime_checkable
class PAENetMapBase(Protocol):
    """``map_channels`` C of the map PAE reads; ``backbone_map`` the backbone's last map (B×C×h×w) before
    any head; ``pool`` map → B×C (the global vector PAE, the AAL heads and a linear recognizer read);
    ``features_from_map`` the base's own heads on a map (the base's ``extract`` after the backbone);
    ``training_losses(feats, batch)`` its full objective; ``inference(feats)`` its eval outputs."""

    map_channels: int
    pool: nn.Module
    device: torch.device

    def preprocess(self, batch: dict) -> dict: ...

    def backbone_map(self, images: torch.Tensor, modality: torch.Tensor) -> torch.Tensor: ...

    def features_from_map(self, fmap: torch.Tensor) -> dict[str, Any]: ...

    def training_losses(self, feats: dict[str, Any], batch: dict) -> dict[str, torch.Tensor]: ...

    def inference(self, feats: dict[str, Any]) -> dict[str, torch.Tensor]: ...


BASE_MEMBERS = ("feat_dim", "pool", "classifier", "device", "preprocess", "extract", "losses")
MAP_BASE_MEMBERS = ("map_channels", "pool", "device", "preprocess", "backbone_map", "features_from_map",
                    "training_losses", "inference")


def _missing(base: nn.Module, members: tuple[str, ...]) -> list[str]:
    return [m for m in members if not hasattr(base, m)]


def attaches_on_map(base: nn.Module) -> bool:
    return not _missing(base, MAP_BASE_MEMBERS)


def check_base(base: nn.Module, name: str) -> None:
    """One line naming ``PAENET.BASE_ARCHITECTURE`` and the members the base lacks (of either protocol)."""
    if attaches_on_map(base) or not _missing(base, BASE_MEMBERS):
        return
    raise UserError(f"PAENET.BASE_ARCHITECTURE {name} lacks {_missing(base, BASE_MEMBERS)}; PAENet attaches to "
                    f"meta-architectures with the members {list(BASE_MEMBERS)} (PAENetBase) or "
                    f"{list(MAP_BASE_MEMBERS)} (PAENetMapBase, which lacks {_missing(base, MAP_BASE_MEMBERS)}).")


def pae_width(base: nn.Module) -> int:
    """C of the map PAE reads (PAE, AAL and the recognizer are built this wide)."""
    return int(base.map_channels if attaches_on_map(base) else base.feat_dim)


def training_only_prefixes(base: nn.Module, own: tuple[str, ...]) -> tuple[str, ...]:
    """PAENet's training-only prefixes plus the base's own under ``base.`` (DDAG's graph, MPANet's
    mutual classifiers, the PCB classifiers), each once."""
    base_prefixes = tuple(f"base.{p}" for p in getattr(type(base), "TRAINING_ONLY_PREFIXES", ()))
    return tuple(dict.fromkeys(own + base_prefixes))
