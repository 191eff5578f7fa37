"""EVALUATOR_REGISTRY and ``build_evaluator``."""
from __future__ import annotations

from ..utils.registry import Registry

__all__ = ["EVALUATOR_REGISTRY", "build_evaluator"]

EVALUATOR_REGISTRY = Registry("EVALUATOR", builtins="fastreid_ext.evaluation")
EVALUATOR_REGISTRY.__doc__ = """Evaluators: classes built by ``from_config(cfg, dataset, output_dir)`` whose
``evaluate(model)`` returns ``{task: {metric: value}}`` (metrics in percent)."""


def build_evaluator(cfg, dataset, output_dir: str):
    name = cfg.TEST.EVALUATOR or getattr(dataset, "default_evaluator", "")
    if not name:
        raise KeyError(
            f"No evaluator for dataset {type(dataset).__name__}: set TEST.EVALUATOR or give the dataset "
            f"class a 'default_evaluator' attribute."
        )
    return EVALUATOR_REGISTRY.build(name, cfg, dataset, output_dir)
