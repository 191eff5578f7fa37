"""Attribute recognition figures: accuracy per attribute and mA (pedestrian-attribute convention)."""
from __future__ import annotations

import logging

import numpy as np
from tabulate import tabulate

from .result_keys import ATTRIBUTES_TASK, ResultKey
from .results_writer import source_label
from .types import FeatureSet

__all__ = ["attribute_recognition", "attribute_figures", "attribute_table", "attribute_keys"]

logger = logging.getLogger(__name__)


def attribute_recognition(probs, targets, mask, names=None, threshold: float = 0.5) -> dict[str, float]:
    """Percent figures over the images where each attribute is known (``mask``):
    ``acc/<name>`` = accuracy of attribute ``name``, ``mA`` = mean over attributes of
    (TPR + TNR) / 2 (a class absent from an attribute's known labels is left out of its mean),
    ``mAcc`` = mean of the per-attribute accuracies. Attributes never known are skipped."""
    probs, targets, mask = np.asarray(probs, np.float64), np.asarray(targets) > 0.5, np.asarray(mask, bool)
    if probs.shape != targets.shape or probs.shape != mask.shape or probs.ndim != 2:
        raise ValueError(f"probs {probs.shape}, targets {targets.shape} and mask {mask.shape} must be equal (N, n) shapes.")
    names = list(names) if names else [f"attr{i}" for i in range(probs.shape[1])]
    pred = probs >= threshold
    out: dict[str, float] = {}
    balanced, accs = [], []
    for j, name in enumerate(names):
        known = mask[:, j]
        if not known.any():
            continue
        p, t = pred[known, j], targets[known, j]
        rates = [float((p[t]).mean())] if t.any() else []
        rates += [float((~p[~t]).mean())] if (~t).any() else []
        balanced.append(np.mean(rates))
        accs.append(float((p == t).mean()))
        out[f"acc/{name}"] = 100.0 * accs[-1]
    if balanced:
        out["mA"] = 100.0 * float(np.mean(balanced))
        out["mAcc"] = 100.0 * float(np.mean(accs))
    return out


def attribute_figures(query: FeatureSet, gallery: FeatureSet, output: str, names=None, prefix: str = "") -> dict[str, float]:
    """:func:`attribute_recognition` of the model output ``output`` over the query and gallery images
    (keys prefixed with ``prefix``); ``{}`` with a warning when its shape differs from the attributes'."""
    probs = np.concatenate([query.features[output].cpu().numpy(), gallery.features[output].cpu().numpy()])
    targets = np.concatenate([query.attributes, gallery.attributes])
    if targets.shape != probs.shape:
        logger.warning("%s of shape %s do not match the attributes of the images %s; no attribute figures.",
                       output, probs.shape, targets.shape)
        return {}
    mask = np.concatenate([query.attribute_mask, gallery.attribute_mask])
    return {f"{prefix}{k}": v for k, v in attribute_recognition(probs, targets, mask, names).items()}


def attribute_keys(names) -> list[str]:
    """The metric names :func:`attribute_recognition` can return for attributes ``names``."""
    return [f"acc/{n}" for n in names or ()] + (["mA", "mAcc"] if names else [])


def attribute_table(figures: dict[str, float], leaking=()) -> str:
    """The ``[source/]acc/<name>``, ``mA`` and ``mAcc`` figures as one table: a row per attribute,
    a column per test-time input source (``leaking`` ones marked as leakage: the model was fed the
    test images' annotations)."""
    sources: list[str] = []
    cells: dict[tuple[str, str], float] = {}
    for key, value in figures.items():
        k = ResultKey.from_parts(f"-/{ATTRIBUTES_TASK}", key)
        if k.source not in sources:
            sources.append(k.source)
        cells[k.metric.split("/")[-1], k.source] = value
    names = list(dict.fromkeys(n for n, _ in cells if n not in ("mA", "mAcc"))) + ["mA", "mAcc"]
    headers = ["attribute"] + [source_label(s, s in leaking) or "accuracy" for s in sources]
    rows = [[n] + [f"{cells[n, s]:.2f}" if (n, s) in cells else "-" for s in sources]
            for n in names if any((n, s) in cells for s in sources)]
    return tabulate(rows, headers=headers, tablefmt="pipe", disable_numparse=True,
                    colalign=("left",) + ("right",) * len(sources))
