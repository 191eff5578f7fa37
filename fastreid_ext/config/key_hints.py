"""What to type instead of an unknown config key: fast-reid's name for it here, else the closest keys.

fast-reid users bring their keys along (``SOLVER.IMS_PER_BATCH``, ``SOLVER.MAX_ITER``...); refusing them
without a pointer costs a search through ``defaults.py``. The closest keys come from ``difflib`` over
the full dotted names of the current config (plugin keys included), with keys that share the last
part (``SOLVER.IDS_PER_BATCH`` → ``DATALOADER.IDS_PER_BATCH``) first.
"""
from __future__ import annotations

import difflib
from typing import Any

__all__ = ["FASTREID_EQUIVALENTS", "all_keys", "closest_keys", "fastreid_hint", "key_hint", "value_not_group"]

_PER_PROCESS = "batch sizes here are per process (fast-reid's IMS_PER_BATCH is the total over all GPUs)"

# fast-reid key -> what to write here. Every key named here exists in the core defaults (tested).
FASTREID_EQUIVALENTS: dict[str, str] = {
    "SOLVER.IMS_PER_BATCH": f"DATALOADER.IDS_PER_BATCH (P) and DATALOADER.NUM_INSTANCES (K): a batch holds P x K "
                            f"visible + P x K infrared images; {_PER_PROCESS}, e.g. 64 on 2 GPUs is "
                            f"DATALOADER.IDS_PER_BATCH 4 DATALOADER.NUM_INSTANCES 4",
    "DATALOADER.NUM_INSTANCE": f"DATALOADER.NUM_INSTANCES (K images per identity and modality in each process's batch; "
                               f"{_PER_PROCESS})",
    "SOLVER.OPT": "SOLVER.OPTIMIZER (SGD | Adam | AdamW)",
    "SOLVER.MAX_ITER": "SOLVER.MAX_EPOCH (schedules here are in epochs; iterations per epoch: "
                       "DATALOADER.ITERS_PER_EPOCH, 0 = from the data)",
    "SOLVER.WARMUP_ITERS": "SOLVER.WARMUP_EPOCHS (schedules here are in epochs; SOLVER.WARMUP_STEP iter ramps "
                           "per iteration within them)",
    "SOLVER.WARMUP_EPOCH": "SOLVER.WARMUP_EPOCHS",
    "SOLVER.WARMUP_METHOD": "SOLVER.WARMUP_STEP (epoch | iter; the ramp is linear from SOLVER.WARMUP_FACTOR)",
    "SOLVER.BIAS_LR_FACTOR": "SOLVER.LR_MULTIPLIERS ([regex, factor] pairs matched against parameter names)",
    "SOLVER.HEADS_LR_FACTOR": "SOLVER.LR_MULTIPLIERS ([regex, factor] pairs matched against parameter names)",
    "SOLVER.FP16_ENABLED": "SOLVER.AMP.ENABLED",
    "SOLVER.CHECKPOINT_PERIOD_ITERS": "SOLVER.CHECKPOINT_PERIOD (epochs)",
    "MODEL.PIXEL_MEAN": "INPUT.PIXEL_MEAN (on the 0-1 scale, fast-reid's is 0-255)",
    "MODEL.PIXEL_STD": "INPUT.PIXEL_STD (on the 0-1 scale, fast-reid's is 0-255)",
    "MODEL.HEADS.POOL_LAYER": "MODEL.HEADS.POOL (gem | avg)",
    "MODEL.HEADS.NECK_FEAT": "MODEL.HEADS.RETRIEVAL_FEATURE (FC = after the BNNeck, POOL = before)",
    "MODEL.BACKBONE.WITH_NL": "MODEL.BACKBONE.NAME NonLocalTwoStreamResNet (see MODEL.BACKBONE.NON_LOCAL.NUM_BLOCKS)",
    "INPUT.FLIP.PROB": "INPUT.FLIP_PROB",
    "INPUT.DO_FLIP": "INPUT.FLIP_PROB",
    "INPUT.PADDING.SIZE": "INPUT.PADDING (pixels; 0 = none)",
    "INPUT.PADDING.ENABLED": "INPUT.PADDING (pixels; 0 = none)",
    "DATALOADER.SAMPLER_TRAIN": "nothing: training always uses the cross-modality identity sampler "
                                "(DATALOADER.IDS_PER_BATCH, DATALOADER.NUM_INSTANCES)",
    "MODEL.LOSSES.TRI.MARGIN": "MODEL.LOSSES.HCTRI.MARGIN (the hetero-center triplet loss; MODEL.LOSSES.NAME "
                               "lists the terms)",
}


def all_keys(cfg: Any, prefix: str = "") -> list[str]:
    """Full dotted names of the leaves of ``cfg``."""
    out: list[str] = []
    for k, v in cfg.items():
        name = f"{prefix}{k}"
        out += all_keys(v, name + ".") if isinstance(v, dict) else [name]
    return out


def closest_keys(key: str, keys: list[str], n: int = 3) -> list[str]:
    """Keys ending like ``key`` first, then ``difflib``'s closest full names (those near the best)."""
    leaf = key.rsplit(".", 1)[-1]
    same_leaf = [k for k in keys if k.rsplit(".", 1)[-1] == leaf and k != key]
    close = difflib.get_close_matches(key, keys, n=n, cutoff=0.7)
    if close:  # only the near-best: a shared dotted prefix alone makes many keys "close"
        best = difflib.SequenceMatcher(None, key, close[0]).ratio()
        close = [k for k in close if difflib.SequenceMatcher(None, key, k).ratio() >= best - 0.08]
    out: list[str] = []
    for k in same_leaf + close:
        if k not in out:
            out.append(k)
    return out[:n]


def fastreid_hint(key: str) -> str:
    """fast-reid's equivalent of ``key``, or of the fast-reid keys under it (a YAML file's unknown group,
    e.g. ``MODEL.LOSSES.TRI`` for ``MODEL.LOSSES.TRI.MARGIN``); "" when it is not fast-reid's."""
    if key in FASTREID_EQUIVALENTS:
        return f"'{key}' is fast-reid's key; here it is {FASTREID_EQUIVALENTS[key]}."
    by_equivalent: dict[str, list[str]] = {}
    for k, ours in FASTREID_EQUIVALENTS.items():
        if k.startswith(key + "."):
            by_equivalent.setdefault(ours, []).append(f"'{k}'")
    return " ".join(f"{' and '.join(ks)} {'is' if len(ks) == 1 else 'are'} fast-reid's key{'s' * (len(ks) > 1)}; "
                    f"here it is {ours}." for ours, ks in by_equivalent.items())


def key_hint(key: str, cfg: Any) -> str:
    """One sentence for an unknown ``key`` of ``cfg`` ("" when nothing is close)."""
    hint = fastreid_hint(key)
    if hint:
        return hint
    close = closest_keys(key, all_keys(cfg))
    return f"Did you mean {' or '.join(close)}?" if close else ""


def value_not_group(key: str, cfg: Any) -> str | None:
    """The first part of the dotted ``key`` that is a single value in ``cfg`` although ``key`` goes
    deeper (``INPUT.PADDING.SIZE`` where ``INPUT.PADDING`` is a number), or None."""
    node, parts = cfg, key.split(".")
    for i, part in enumerate(parts[:-1]):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
        if not isinstance(node, dict):
            return ".".join(parts[: i + 1])
    return None
