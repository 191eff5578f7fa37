"""Evaluation: protocols (registered, declared by datasets), result keys, vectorised metrics, ranking
backends (docs/architecture.md). Importing it registers the evaluator and the SYSU-MM01 / RegDB protocols."""
from .build import EVALUATOR_REGISTRY, build_evaluator
from .camera_rules import CameraPairRule, CameraRule, SameCameraRule
from .cross_modality_evaluator import CrossModalityEvaluator
from .metrics import compute_metrics, eval_regdb, eval_sysu
from .protocol_api import (PROTOCOL_REGISTRY, EvaluationProtocol, Task, build_protocol, draw_per_identity_camera,
                           group_by_identity_camera, register_protocol)
from .protocols import draw_sysu_gallery, run_tasks
from .ranking import rank_gallery, ranked_rows
from .regdb_protocol import RegDBProtocol
from .reranking import k_reciprocal_distance
from .result_keys import ResultKey
from .sysu_protocol import SYSUProtocol
from .types import DistanceSource, FeatureSet, RankingOptions, RetrievalMetrics, TestTimeOptions

__all__ = [
    "EVALUATOR_REGISTRY", "PROTOCOL_REGISTRY", "build_evaluator", "build_protocol", "register_protocol",
    "CrossModalityEvaluator", "EvaluationProtocol", "Task", "SYSUProtocol", "RegDBProtocol",
    "CameraRule", "CameraPairRule", "SameCameraRule", "ResultKey",
    "DistanceSource", "FeatureSet", "RankingOptions", "RetrievalMetrics", "TestTimeOptions",
    "compute_metrics", "eval_sysu", "eval_regdb", "rank_gallery", "ranked_rows", "run_tasks", "k_reciprocal_distance",
    "draw_sysu_gallery", "draw_per_identity_camera", "group_by_identity_camera",
]
