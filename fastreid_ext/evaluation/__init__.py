"""Evaluation: cross-modal protocols, vectorised metrics, ranking backends (docs/architecture.md)."""
from .build import EVALUATOR_REGISTRY, build_evaluator
from .cross_modality_evaluator import CrossModalityEvaluator
from .metrics import compute_metrics, eval_regdb, eval_sysu
from .protocols import draw_sysu_gallery
from .ranking import rank_gallery
from .reranking import k_reciprocal_distance
from .types import DistanceSource, FeatureSet, RankingOptions, RetrievalMetrics, TestTimeOptions

__all__ = [
    "EVALUATOR_REGISTRY",
    "build_evaluator",
    "CrossModalityEvaluator",
    "DistanceSource",
    "FeatureSet",
    "RankingOptions",
    "RetrievalMetrics",
    "TestTimeOptions",
    "compute_metrics",
    "eval_sysu",
    "eval_regdb",
    "rank_gallery",
    "k_reciprocal_distance",
    "draw_sysu_gallery",
]
