"""Run a model over a test loader once and keep its evaluation outputs (features, attribute probs)."""
from __future__ import annotations

import torch
from tqdm import tqdm

__all__ = ["extract_outputs", "BATCH_FIELDS"]

BATCH_FIELDS = ("targets", "camids", "img_paths", "attributes", "attribute_mask")


@torch.no_grad()
def extract_outputs(model, loader, names, attribute_source: str | None = None, desc: str = "features", progress: bool = True):
    """(outputs, batch_fields): ``outputs`` = {name: (N, D) tensor} for each of ``names`` the model
    returns, in loader order, on the model's output device; ``batch_fields`` = the batches' own
    ``targets``, ``camids``, ``img_paths``, ``attributes``, ``attribute_mask`` concatenated (the
    loader may drop unreadable images, so these, not the records, describe the rows). The batch
    carries its ``modality``, so the model routes every image through its own branch;
    ``attribute_source`` is set on each batch when given."""
    was_training = model.training
    model.eval()
    parts: dict[str, list[torch.Tensor]] = {}
    fields: dict[str, list] = {}
    try:
        for batch in tqdm(loader, desc=desc, disable=not progress, leave=False):
            for key in BATCH_FIELDS:
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
    return outputs, {k: (v if k == "img_paths" else torch.cat(v)) for k, v in fields.items()}
