"""BACKBONE_REGISTRY and ``build_backbone``."""
from __future__ import annotations

from ...utils.registry import Registry

__all__ = ["BACKBONE_REGISTRY", "build_backbone"]

BACKBONE_REGISTRY = Registry("BACKBONE", builtins="fastreid_ext.modeling.backbones")
BACKBONE_REGISTRY.__doc__ = """Backbones: ``nn.Module`` classes built by ``from_config(cfg)``; ``forward(images, modality)``
returns a B×C×H×W feature map and the module exposes ``out_channels``."""


def build_backbone(cfg):
    return BACKBONE_REGISTRY.build(cfg.MODEL.BACKBONE.NAME, cfg)
