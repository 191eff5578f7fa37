"""Backbones; importing this package registers the built-in ones."""
from .build import BACKBONE_REGISTRY, build_backbone
from .two_stream_resnet import TwoStreamResNet
from .non_local_resnet import NonLocalTwoStreamResNet

__all__ = ["BACKBONE_REGISTRY", "build_backbone", "TwoStreamResNet", "NonLocalTwoStreamResNet"]
