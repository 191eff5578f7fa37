"""Positive and negative pair-distance histograms per protocol task, from saved features
(``TEST.SAVE_FEATURES``): the distributions behind the TPR@FPR figures of ``results.json``
(same pairs: the first trial of each task under the protocol's camera rule, :mod:`..evaluation.roc`)."""
from __future__ import annotations

import os

import numpy as np

from ..utils.errors import UserError
from .curves import _save, new_figure

__all__ = ["task_pair_distances", "distance_figure", "plot_distances"]

DISTANCE_LABELS = {"cosine": "distance (−cosine similarity)", "euclidean": "squared Euclidean distance"}


def task_pair_distances(path: str, feature: str = "FC", distance: str = "cosine") -> list[tuple[str, np.ndarray, np.ndarray]]:
    """[(task, positive distances, negative distances)] of every task of the file's protocol (its
    default options), first trial, pairs kept by the protocol's camera rule."""
    from ..evaluation.distances import FeatureSource  # noqa: PLC0415 - evaluation is only needed when drawing
    from ..evaluation.protocol_api import PROTOCOL_REGISTRY
    from ..evaluation.roc import source_pair_distances
    from ..evaluation.saved_features import load_features

    if not os.path.isfile(path):
        raise UserError(f"{path}: no such features file (TEST.SAVE_FEATURES True writes OUTPUT_DIR/features.npz).")
    query, gallery, meta = load_features(path)
    if feature not in query.features:
        raise UserError(f"{path}: no feature {feature!r} (has {sorted(query.features)}).")
    name = meta["protocol"]
    if name not in PROTOCOL_REGISTRY:
        raise UserError(f"{path}: protocol '{name}' is not registered; registered: {PROTOCOL_REGISTRY.names()}.")
    protocol = PROTOCOL_REGISTRY.get(name)()
    out = []
    for task in protocol.task_names(False):
        q, g, rule = protocol.pools(query, gallery, task, 0)
        source = FeatureSource(q.features[feature], g.features[feature], distance)
        out.append((task, *source_pair_distances(source, q.pids, g.pids, q.camids, g.camids, rule)))
    return out


def distance_figure(panels, distance: str = "cosine", title: str = "", bins: int = 50):
    """One panel per task: positive and negative pair-distance densities on shared bins, legend below
    the data."""
    fig = new_figure(4.0 * max(1, len(panels)), 3.6)
    axes = fig.subplots(1, max(1, len(panels)), squeeze=False)[0]
    for ax, (task, pos, neg) in zip(axes, panels):
        both = np.concatenate([pos, neg])
        edges = np.histogram_bin_edges(both, bins=bins) if both.size else bins
        ax.hist(neg, bins=edges, density=True, alpha=0.55, color="tab:red", label=f"negative pairs ({len(neg):,})")
        ax.hist(pos, bins=edges, density=True, alpha=0.55, color="tab:blue", label=f"positive pairs ({len(pos):,})")
        ax.set_title(task)
        ax.set_xlabel(DISTANCE_LABELS.get(distance, "distance"))
        ax.set_ylabel("density")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=1, fontsize="small", frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_distances(path: str, out: str, feature: str = "FC", distance: str = "cosine", dpi: int = 100) -> str:
    panels = task_pair_distances(path, feature, distance)
    return _save(distance_figure(panels, distance, f"{os.path.basename(path)}: {feature}"), out, dpi)
