"""``InferencePath``: a model's retrieval feature as a function of plain tensors.

The meta-architectures take a batch dict (with a string ``attribute_source``), which neither the jit
tracer (fvcore's FLOP count) nor the ONNX exporter accept. This wrapper fixes the feature and the
attribute source at construction and takes ``(images, modality[, attributes])``: ``images`` are
test-transform outputs (B, 3, H, W) (resized, normalised), ``modality`` int64 (B,) (0 visible,
1 infrared), ``attributes`` (B, n) 0/1 only when the source needs the images' annotations (the
model declares which: ``modeling.input_sources``).
"""
from __future__ import annotations

import torch
from torch import nn

from .input_sources import declared_input_sources, default_input_source

__all__ = ["InferencePath", "example_inputs", "default_attribute_source"]


def default_attribute_source(model, cfg) -> str | None:
    """The primary test-time input source of a model that declares some: the first of
    TEST.ATTRIBUTE_SOURCES that does not leak labels, else the model's label-free default, else the
    first listed; None for models that take the image only."""
    declared = declared_input_sources(model)
    if not declared:
        return None
    listed = [s for s in cfg.TEST.ATTRIBUTE_SOURCES if s in declared]
    return next((s for s in listed if not declared[s].leaks_labels), None) or default_input_source(model) or \
        (listed[0] if listed else next(iter(declared)))


class InferencePath(nn.Module):
    def __init__(self, model: nn.Module, feature: str = "FC", attribute_source: str | None = None):
        super().__init__()
        self.model = model
        self.feature = feature
        self.attribute_source = attribute_source

    @property
    def takes_attributes(self) -> bool:
        source = declared_input_sources(self.model).get(self.attribute_source)
        return bool(source is not None and source.needs_annotations)

    def forward(self, images: torch.Tensor, modality: torch.Tensor, attributes: torch.Tensor | None = None):
        batch = {"images": images, "modality": modality}
        if self.attribute_source is not None:
            batch["attribute_source"] = self.attribute_source
        if attributes is not None:
            batch["attributes"] = attributes
            batch["attribute_mask"] = torch.ones_like(attributes, dtype=torch.bool)
        return self.model(batch)[self.feature]


def example_inputs(cfg, path: InferencePath, batch_size: int = 1, device=None) -> tuple[torch.Tensor, ...]:
    """Inputs at the test size (``INPUT.SIZE_TEST``): random images, visible modality, and for a
    source that needs annotations all-zero attributes of ``MODEL.NUM_ATTRIBUTES``."""
    h, w = (int(x) for x in cfg.INPUT.SIZE_TEST)
    g = torch.Generator().manual_seed(0)
    inputs = [torch.randn(batch_size, 3, h, w, generator=g), torch.zeros(batch_size, dtype=torch.long)]
    if path.takes_attributes:
        inputs.append(torch.zeros(batch_size, int(cfg.MODEL.NUM_ATTRIBUTES)))
    return tuple(x.to(device) if device is not None else x for x in inputs)
