"""Backbones; importing this package registers the built-in ones."""
from .build import BACKBONE_REGISTRY, build_backbone

__all__ = ["BACKBONE_REGISTRY", "build_backbone"]
