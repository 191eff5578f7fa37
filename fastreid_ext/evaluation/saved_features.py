"""Extracted feature sets on disk (``TEST.SAVE_FEATURES``), so rank lists can be inspected without a model."""
from __future__ import annotations

import os

import numpy as np
import torch

from .types import FeatureSet

__all__ = ["save_features", "load_features"]


def save_features(path: str, query: FeatureSet, gallery: FeatureSet, names, dataset: str, protocol: str, source=None) -> None:
    """One ``.npz``: ``query/<feature>``, ``gallery/<feature>`` and the sets' pids, camids, paths."""
    arrays = {"dataset": np.array(dataset), "protocol": np.array(protocol), "attribute_source": np.array(source or "")}
    for role, feature_set in (("query", query), ("gallery", gallery)):
        for name in names:
            arrays[f"{role}/{name}"] = feature_set.features[name].cpu().numpy()
        arrays[f"{role}/pids"], arrays[f"{role}/camids"] = feature_set.pids, feature_set.camids
        arrays[f"{role}/paths"] = np.array(feature_set.paths, dtype=str)
        if feature_set.modalities is not None:
            arrays[f"{role}/modality"] = np.asarray(feature_set.modalities, dtype=str)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    np.savez(path, **arrays)


def load_features(path: str) -> tuple[FeatureSet, FeatureSet, dict]:
    """(query set, gallery set, meta) from a file written by :func:`save_features`."""
    if not os.path.isfile(path):
        from ..utils.errors import UserFileNotFoundError

        raise UserFileNotFoundError(f"{path}: no such features file (TEST.SAVE_FEATURES True writes "
                                    "OUTPUT_DIR/features.npz, or OUTPUT_DIR/features-<source>.npz per test-time attribute source).")
    with np.load(path, allow_pickle=False) as z:
        data = {k: z[k] for k in z.files}
    sets = []
    for role in ("query", "gallery"):
        feats = {k.split("/", 1)[1]: torch.from_numpy(v) for k, v in data.items()
                 if k.startswith(f"{role}/") and k.split("/", 1)[1] not in ("pids", "camids", "paths", "modality")}
        modality = data.get(f"{role}/modality")
        sets.append(FeatureSet(feats, data[f"{role}/pids"], data[f"{role}/camids"], [str(p) for p in data[f"{role}/paths"]],
                               modalities=None if modality is None else modality.astype(str)))
    meta = {k: str(data[k]) for k in ("dataset", "protocol", "attribute_source")}
    return sets[0], sets[1], meta
