"""Run a model over a test loader once and keep its evaluation outputs (features, attribute probs)
as a :class:`~.types.FeatureSet`.

Under torch.distributed every rank runs its shard of the loader (the inference sampler splits the
dataset); the shards are gathered on the main process and put back in loader order by the dataset
index each batch carries, so the main process sees exactly what one process would have seen.
"""
from __future__ import annotations

import logging

import numpy as np
import torch
from tqdm import tqdm

from ..utils import comm
from .types import FeatureSet

__all__ = ["extract_feature_set", "extract_outputs", "gather_in_loader_order", "BATCH_FIELDS"]

logger = logging.getLogger(__name__)

BATCH_FIELDS = ("targets", "camids", "img_paths", "attributes", "attribute_mask")
INDEX_FIELD = "indices"


@torch.no_grad()
def extract_outputs(model, loader, names, attribute_source: str | None = None, desc: str = "features", progress: bool = True):
    """(outputs, batch_fields) on the main process, ``None`` on the other ranks.

    ``outputs`` = {name: (N, D) tensor} for each of ``names`` the model returns, in loader order, on
    the model's output device; ``batch_fields`` = the batches' own ``targets``, ``camids``,
    ``img_paths``, ``attributes``, ``attribute_mask`` concatenated (the loader may drop unreadable
    images, so these, not the records, describe the rows). The batch carries its ``modality``, so the
    model routes every image through its own branch; ``attribute_source`` is set on each batch when
    given. Every rank must call this (it gathers)."""
    was_training = model.training
    model.eval()
    parts: dict[str, list[torch.Tensor]] = {}
    fields: dict[str, list] = {}
    try:
        for batch in tqdm(loader, desc=desc, disable=not progress or not comm.is_main_process(), leave=False):
            for key in (*BATCH_FIELDS, INDEX_FIELD):
                if key in batch:
                    value = batch[key]
                    fields.setdefault(key, []).extend(list(value) if key == "img_paths" else [value.cpu()])
            if attribute_source is not None:
                batch = dict(batch, attribute_source=attribute_source)
            outputs = model(batch)
            if not isinstance(outputs, dict):
                raise TypeError(f"In eval mode the model must return a dict of tensors, got {type(outputs).__name__}.")
            for name in names:
                if name in outputs:
                    parts.setdefault(name, []).append(outputs[name].detach().float())
    finally:
        model.train(was_training)
    outputs = {name: torch.cat(chunks) for name, chunks in parts.items()}
    fields = {k: (v if k == "img_paths" else torch.cat(v)) for k, v in fields.items()}
    if comm.get_world_size() == 1:
        fields.pop(INDEX_FIELD, None)
        return outputs, fields
    return gather_in_loader_order(outputs, fields, len(loader.dataset))


def _take(value, order: torch.Tensor):
    return [value[i] for i in order.tolist()] if isinstance(value, list) else value[order.to(value.device)]


def _num_rows(shard) -> int:
    return next((len(v) for part in shard for v in part.values()), 0)


def gather_in_loader_order(outputs: dict, fields: dict, size: int):
    """This rank's shard → the whole dataset on the main process (``None`` elsewhere).

    Each rank sends its rows (CPU copies) with their dataset ``indices``; shards may be uneven or
    empty. The main process concatenates them, sorts the rows by index and checks that every index
    in ``range(size)`` came exactly once, so no row is duplicated or lost. Batches without
    ``indices`` (a plugin's loader) are taken in rank order, which the inference sampler's contiguous
    slices make the loader order; their row count is still checked."""
    device = next((v.device for v in outputs.values()), torch.device("cpu"))
    shards = comm.gather(({k: v.cpu() for k, v in outputs.items()}, fields), dst=0)
    if not comm.is_main_process():
        return None
    shards = [s for s in shards if _num_rows(s) > 0]
    if not shards:
        return {}, {}
    if all(INDEX_FIELD in s[1] for s in shards):
        index = torch.cat([s[1][INDEX_FIELD] for s in shards])
    else:
        index = torch.arange(sum(_num_rows(s) for s in shards))
    order = torch.sort(index, stable=True).indices
    if not torch.equal(index[order], torch.arange(size)):
        raise RuntimeError(f"The gathered evaluation shards hold {index.numel()} rows ({index.unique().numel()} distinct "
                           f"dataset indices) for a dataset of {size}: a sample is duplicated or missing.")
    merged_outputs = {k: _take(torch.cat([s[0][k] for s in shards]), order).to(device) for k in shards[0][0]}
    merged_fields = {}
    for key in shards[0][1]:
        if key == INDEX_FIELD:
            continue
        value = sum((s[1][key] for s in shards), []) if key == "img_paths" else torch.cat([s[1][key] for s in shards])
        merged_fields[key] = _take(value, order)
    return merged_outputs, merged_fields


def extract_feature_set(model, loader, records, names, attribute_source: str | None = None, role: str = "query",
                        desc: str = "features", progress: bool = True) -> FeatureSet | None:
    """The :class:`~.types.FeatureSet` of ``records`` (the loader's images) on the main process,
    ``None`` on the other ranks. Rows follow the batches; images the loader dropped are left out
    with a warning, and fields the batches lack come from the records."""
    if not records:
        raise ValueError(f"{desc}: the {role} set is empty; nothing to evaluate.")
    extracted = extract_outputs(model, loader, names, attribute_source, desc=desc, progress=progress)
    if extracted is None:  # another rank than the main one: its shard went to the main process
        return None
    outputs, fields = extracted
    n = len(fields["targets"]) if "targets" in fields else len(records)
    for name, value in outputs.items():
        if value.shape[0] != n:
            raise RuntimeError(f"Output '{name}' has {value.shape[0]} rows for {n} {role} images.")
    if n < len(records):
        logger.warning("%s: %d of %d %s images could not be read and are left out.", desc, len(records) - n,
                       len(records), role)
    if {"targets", "camids", "img_paths"} <= set(fields):
        pids, camids, paths = fields["targets"].numpy(), fields["camids"].numpy(), list(fields["img_paths"])
    else:
        pids, camids = np.array([r.pid for r in records]), np.array([r.camid for r in records])
        paths = [r.img_path for r in records]
    if "attributes" in fields and "attribute_mask" in fields:
        attrs, mask = fields["attributes"].numpy(), fields["attribute_mask"].numpy()
    else:
        attrs, mask = np.stack([r.attributes for r in records]), np.stack([r.attribute_mask for r in records])
    by_path = {r.img_path: r.modality for r in records}
    modalities = np.array([by_path.get(p, "") for p in paths], dtype=str)
    return FeatureSet(outputs, pids, camids, paths, attrs, mask, modalities)
