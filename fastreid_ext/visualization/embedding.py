"""t-SNE of test features: colour = identity, marker = modality; one panel per feature file, side by
side (e.g. baseline vs PAENet on the same images)."""
from __future__ import annotations

import os

import numpy as np

from ..utils.errors import UserError
from .curves import _save, new_figure

__all__ = ["load_feature_file", "tsne_2d", "plot_tsne"]

MARKERS = {"visible": "o", "infrared": "^"}
EXACT_MAX = 1500


def load_feature_file(path: str, feature: str = "FC") -> dict:
    """{"features", "pids", "modality"} from the evaluator's ``features*.npz`` (query and gallery pools,
    each image with its modality) or from ``tools/extract_features.py``."""
    if not os.path.isfile(path):
        raise UserError(f"{path}: no such features file (TEST.SAVE_FEATURES True writes OUTPUT_DIR/features.npz).")
    with np.load(path, allow_pickle=False) as z:
        files = set(z.files)
        if {"features", "pids", "modality"} <= files:
            return {"features": z["features"], "pids": z["pids"], "modality": z["modality"].astype(str)}
        if f"query/{feature}" not in files:
            have = sorted(k.split("/", 1)[1] for k in files if k.startswith("query/")) or sorted(files)
            raise UserError(f"{path}: no feature {feature!r} (has {have}).")
        if not {"query/modality", "gallery/modality"} <= files:
            raise UserError(f"{path}: no per-image modality (written before 0.2); evaluate again with "
                            f"TEST.SAVE_FEATURES True to re-save it.")
        return {
            "features": np.concatenate([z[f"query/{feature}"], z[f"gallery/{feature}"]]),
            "pids": np.concatenate([z["query/pids"], z["gallery/pids"]]),
            "modality": np.concatenate([z["query/modality"], z["gallery/modality"]]).astype(str),
        }


def tsne_2d(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """2-D t-SNE (scikit-learn) of L2-normalised features; exact gradients up to ``EXACT_MAX`` points
    (faster and deterministic at figure sizes), Barnes-Hut above."""
    try:
        from sklearn.manifold import TSNE  # noqa: PLC0415 - optional dependency
    except ImportError as e:
        raise ImportError("t-SNE figures need scikit-learn: pip install scikit-learn (or fastreid_ext[plots]).") from e
    x = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    perplexity = float(max(2.0, min(30.0, (len(x) - 1) / 3)))
    method = "exact" if len(x) <= EXACT_MAX else "barnes_hut"
    return TSNE(n_components=2, init="pca", perplexity=perplexity, method=method, random_state=seed).fit_transform(x)


def plot_tsne(paths, out: str, labels=None, feature: str = "FC", num_ids: int = 10, seed: int = 0, dpi: int = 100) -> str:
    """One t-SNE panel per file, on the same ``num_ids`` identities (those present in every file,
    the first ones in sorted order)."""
    data = [load_feature_file(p, feature) for p in paths]
    common = sorted(set.intersection(*(set(d["pids"].tolist()) for d in data)))
    if not common:
        raise UserError(f"The feature files {list(paths)} share no identity.")
    ids = common[:num_ids]
    fig = new_figure(6 * len(data), 6)
    axes = np.atleast_1d(fig.subplots(1, len(data)))
    import matplotlib  # noqa: PLC0415

    cmap = matplotlib.colormaps["tab20"]
    for ax, d, path, i in zip(axes, data, paths, range(len(data))):
        keep = np.isin(d["pids"], ids)
        emb = tsne_2d(d["features"][keep], seed)
        pids, mods = d["pids"][keep], d["modality"][keep]
        for mod, marker in MARKERS.items():
            for j, pid in enumerate(ids):
                sel = (pids == pid) & (mods == mod)
                if sel.any():
                    ax.scatter(emb[sel, 0], emb[sel, 1], color=cmap(j % 20), marker=marker, s=28,
                               edgecolors="k" if mod == "infrared" else "none", linewidths=0.5)
        ax.set_title(labels[i] if labels else os.path.basename(path))
        ax.set_xticks([])
        ax.set_yticks([])
    from matplotlib.lines import Line2D  # noqa: PLC0415

    handles = [Line2D([], [], color="gray", marker=m, linestyle="", label=mod) for mod, m in MARKERS.items()]
    axes[-1].legend(handles=handles, loc="best", fontsize=8, title=f"{len(ids)} identities (colour)")
    fig.tight_layout()
    return _save(fig, out, dpi)
