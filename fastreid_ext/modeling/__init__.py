"""Models: registries, backbones, layers, losses and meta-architectures (imported here to register)."""
from .backbones.build import BACKBONE_REGISTRY, build_backbone
from .meta_arch.build import META_ARCH_REGISTRY, build_model

__all__ = ["BACKBONE_REGISTRY", "META_ARCH_REGISTRY", "build_backbone", "build_model"]
