"""Models: registries, backbones, layers, losses and meta-architectures (imported here to register)."""
from . import layers, losses
from .backbones import BACKBONE_REGISTRY, TwoStreamResNet, build_backbone
from .meta_arch import META_ARCH_REGISTRY, CrossModalBaseline, build_model

__all__ = ["BACKBONE_REGISTRY", "META_ARCH_REGISTRY", "build_backbone", "build_model", "TwoStreamResNet",
           "CrossModalBaseline", "layers", "losses"]
