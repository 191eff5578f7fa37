"""Evaluation: cross-modal protocols, vectorised metrics, ranking backends."""
from .build import EVALUATOR_REGISTRY, build_evaluator
from .cross_modality_evaluator import CrossModalityEvaluator
from .metrics import RetrievalMetrics, compute_metrics, eval_regdb, eval_sysu
from .ranking import rank_gallery
from .reranking import k_reciprocal_distance
from .sysu_protocol import draw_sysu_gallery

__all__ = [
    "EVALUATOR_REGISTRY",
    "build_evaluator",
    "CrossModalityEvaluator",
    "RetrievalMetrics",
    "compute_metrics",
    "eval_sysu",
    "eval_regdb",
    "rank_gallery",
    "k_reciprocal_distance",
    "draw_sysu_gallery",
]
