"""Query × gallery distances: feature preparation and one distance block.

Convention (the community one): smaller distance = better match, and for "cosine" the distance is
``-(q · g)`` on L2-normalised features, for "euclidean" the *squared* Euclidean distance (same
ranking as the Euclidean distance, and what FAISS ``IndexFlatL2`` returns).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .types import RankingOptions

__all__ = ["DISTANCES", "normalize_features", "prepare_features", "distance_block", "rows_per_chunk"]

DISTANCES = ("cosine", "euclidean")

# Elements of a query-chunk × gallery block; about 20 bytes of temporaries per element in the
# metric code, so ~0.7 GB at the default. Bounds memory whatever the gallery size.
DEFAULT_BLOCK_ELEMENTS = 1 << 25


def check_distance(distance: str) -> None:
    if distance not in DISTANCES:
        raise ValueError(f"Unknown distance '{distance}'; expected one of {DISTANCES} (TEST.RANKING.DISTANCE).")


def normalize_features(features: torch.Tensor, distance: str) -> torch.Tensor:
    """float32 2-D features, L2-normalised for cosine (the models return them unnormalised)."""
    check_distance(distance)
    if features.dim() != 2:
        raise ValueError(f"Features must be a 2-D (N, D) tensor, got shape {tuple(features.shape)}.")
    features = features.float()
    return F.normalize(features, dim=1) if distance == "cosine" else features


def prepare_features(query: torch.Tensor, gallery: torch.Tensor, options: RankingOptions) -> tuple[torch.Tensor, torch.Tensor]:
    """The one place where query and gallery features are post-processed before any distance
    (normalisation today; query expansion or similar steps belong here), gallery on the query's device."""
    q, g = normalize_features(query, options.distance), normalize_features(gallery, options.distance)
    if q.shape[1] != g.shape[1]:
        raise ValueError(f"Query and gallery feature sizes differ: {q.shape[1]} vs {g.shape[1]}.")
    return q, g.to(q.device)


def distance_block(q: torch.Tensor, g: torch.Tensor, distance: str, g_sqnorm: torch.Tensor | None = None) -> torch.Tensor:
    """(len(q), len(g)) distances, on the features' device; inputs from :func:`normalize_features`."""
    check_distance(distance)
    if distance == "cosine":
        return torch.mm(q, g.t()).neg_()
    if g_sqnorm is None:
        g_sqnorm = g.pow(2).sum(1)
    d = torch.addmm(g_sqnorm.unsqueeze(0), q, g.t(), beta=1.0, alpha=-2.0)
    return d.add_(q.pow(2).sum(1, keepdim=True))


def rows_per_chunk(num_gallery: int, max_rows: int = 0, block_elements: int = DEFAULT_BLOCK_ELEMENTS) -> int:
    """Query rows per chunk so a chunk × gallery block stays within ``block_elements``."""
    rows = max(1, block_elements // max(1, num_gallery))
    return min(rows, max_rows) if max_rows > 0 else rows
