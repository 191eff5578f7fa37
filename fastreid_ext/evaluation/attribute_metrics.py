"""Attribute recognition figures: accuracy per attribute and mA (pedestrian-attribute convention)."""
from __future__ import annotations

import numpy as np

__all__ = ["attribute_recognition"]


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
