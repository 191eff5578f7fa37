"""ONNX export of a model's inference path (``tools/export.py``) and its check against torch.

Inputs of the exported graph: ``images`` float32 (B, 3, H, W), the test transform's output (resized to
``INPUT.SIZE_TEST`` and normalised by ``INPUT.PIXEL_MEAN``/``PIXEL_STD``; the graph does neither),
``modality`` int64 (B,) (0 visible, 1 infrared; a batch may mix them) and, only for attribute models
exported with the ``gt`` source, ``attributes`` float32 (B, n). Sources ``predicted`` and ``zeros``
are baked into the graph (the recognizer runs inside it). Output: ``features`` (B, D), the model's
feature before any normalisation, as the evaluator receives it (no flip averaging). The batch axis
is dynamic. The graph's metadata names the feature, the source, the test size and the normalisation.
"""
from __future__ import annotations

import json
import os
import tempfile

import numpy as np
import torch

from ..modeling.inference_path import InferencePath, default_attribute_source, example_inputs
from ..utils.errors import UserError

__all__ = ["export_onnx", "run_onnx"]


def _source(model, cfg, attribute_source: str | None) -> str | None:
    """The source baked into (or, when it needs annotations, fed to) the graph: the one asked for,
    else the model's primary one; checked against what the model declares."""
    from ..modeling.input_sources import resolve_input_source  # noqa: PLC0415

    return resolve_input_source(model, attribute_source or default_attribute_source(model, cfg))


def export_onnx(model: torch.nn.Module, cfg, path: str, attribute_source: str | None = None,
                feature: str | None = None, opset: int = 17) -> dict:
    """Write ``path`` (atomically) and return its description (inputs, output, source, metadata)."""
    try:
        import onnx
    except ImportError:
        raise UserError("ONNX export needs the onnx package: pip install onnx (in the dev extra).") from None
    source = _source(model, cfg, attribute_source)
    feature = feature or cfg.TEST.FEATURES[0]
    wrapper = InferencePath(model, feature, source).eval()
    inputs = example_inputs(cfg, wrapper, batch_size=2, device=next(model.parameters()).device)
    names = ["images", "modality"] + (["attributes"] if wrapper.takes_attributes else [])
    meta = {"feature": feature, "attribute_source": source or "", "inputs": names,
            "input_size": [int(x) for x in cfg.INPUT.SIZE_TEST], "pixel_mean": list(cfg.INPUT.PIXEL_MEAN),
            "pixel_std": list(cfg.INPUT.PIXEL_STD), "meta_architecture": cfg.MODEL.META_ARCHITECTURE}
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=folder)
    os.close(fd)
    try:
        with torch.no_grad():
            torch.onnx.export(wrapper, inputs, tmp, dynamo=False, opset_version=int(opset), input_names=names,
                              output_names=["features"], dynamic_axes={n: {0: "batch"} for n in names + ["features"]})
        graph = onnx.load(tmp)
        onnx.checker.check_model(graph)
        for key, value in meta.items():
            graph.metadata_props.add(key=key, value=json.dumps(value))
        onnx.save(graph, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return meta


def run_onnx(path: str, images, modality, attributes=None) -> np.ndarray:
    """Features of the exported graph under onnxruntime (CPU)."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise UserError("Running an ONNX model needs onnxruntime: pip install onnxruntime.") from None
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    wanted = {i.name for i in session.get_inputs()}
    feeds = {"images": np.asarray(images, dtype=np.float32), "modality": np.asarray(modality, dtype=np.int64)}
    if "attributes" in wanted:
        if attributes is None:
            raise UserError(f"{path} takes attributes (exported with the gt source); give them.")
        feeds["attributes"] = np.asarray(attributes, dtype=np.float32)
    return session.run(["features"], {k: v for k, v in feeds.items() if k in wanted})[0]
