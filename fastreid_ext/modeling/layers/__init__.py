"""Pooling and neck layers shared by the meta-architectures."""
from .bnneck import BNNeck, build_neck
from .gem import GeM
from .pooling import GlobalAvgPool, build_pooling

__all__ = ["BNNeck", "GeM", "GlobalAvgPool", "build_neck", "build_pooling"]
