"""Pooling and neck layers shared by the meta-architectures."""
from .bnneck import BNNeck, build_neck
from .gem import GeM
from .non_local import NonLocalBlock
from .pooling import GlobalAvgPool, build_pooling

__all__ = ["BNNeck", "GeM", "GlobalAvgPool", "NonLocalBlock", "build_neck", "build_pooling"]
