"""Parameters and FLOPs of a model's inference path at its test size (fvcore's ``FlopCountAnalysis``).

FLOPs follow fvcore's convention: one fused multiply-add counts as one FLOP (so the figures are
MACs, as in most ReID papers), per image of one modality at ``INPUT.SIZE_TEST``; the attribute
source is the primary test-time one. Counting traces the model in eval mode without gradients and
restores its mode, so it can run at the start of training without touching BN statistics.
"""
from __future__ import annotations

import logging

import torch
from torch import nn

from .inference_path import InferencePath, default_attribute_source, example_inputs

__all__ = ["count_parameters", "inference_flops", "model_complexity", "complexity_line", "log_complexity"]

logger = logging.getLogger(__name__)


def count_parameters(model: nn.Module, skip_prefixes: tuple[str, ...] = ()) -> int:
    """Parameters (shared tensors once), except those whose name starts with one of ``skip_prefixes``."""
    seen, total = set(), 0
    for name, p in model.named_parameters():
        if id(p) in seen or name.startswith(skip_prefixes):
            continue
        seen.add(id(p))
        total += p.numel()
    return total


def inference_flops(model: nn.Module, cfg, attribute_source: str | None = None, feature: str | None = None):
    """fvcore's ``FlopCountAnalysis`` of the inference path on one test-size image (warnings off)."""
    from ..utils.env import import_fvcore_nn  # noqa: PLC0415

    FlopCountAnalysis = import_fvcore_nn().FlopCountAnalysis  # noqa: N806

    path = InferencePath(model, feature or cfg.TEST.FEATURES[0], attribute_source)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            analysis = FlopCountAnalysis(path, example_inputs(cfg, path, 1, device))
            analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
            analysis.total()  # traces now, inside no_grad and eval mode
    finally:
        model.train(was_training)
    return analysis


def model_complexity(model: nn.Module, cfg) -> dict:
    """``{"params", "params_inference" (without the training-only parts, e.g. the identity classifier),
    "flops" (per image), "input": [H, W], "attribute_source"}``."""
    source = default_attribute_source(model, cfg)
    skip = tuple(getattr(model, "TRAINING_ONLY_PREFIXES", ()))  # an instance may extend its class's
    return {"params": count_parameters(model), "params_inference": count_parameters(model, skip),
            "flops": int(inference_flops(model, cfg, source).total()),
            "input": [int(x) for x in cfg.INPUT.SIZE_TEST], "attribute_source": source}


def complexity_line(info: dict) -> str:
    h, w = info["input"]
    src = f", attribute source {info['attribute_source']}" if info.get("attribute_source") else ""
    return (f"{info['params'] / 1e6:.2f} M parameters ({info['params_inference'] / 1e6:.2f} M at inference), "
            f"{info['flops'] / 1e9:.3f} GFLOPs (multiply-adds) per {h}x{w} image{src}")


def log_complexity(model: nn.Module, cfg) -> dict | None:
    """Log the complexity once at the start of a run; a model the tracer cannot follow logs a warning
    instead of failing the run."""
    try:
        info = model_complexity(model, cfg)
    except Exception as e:  # a log line must never stop training
        logger.warning("Model complexity not counted (%s: %s); tools/complexity.py shows the details.",
                       type(e).__name__, e)
        return None
    logger.info("Model complexity: %s", complexity_line(info))
    return info
