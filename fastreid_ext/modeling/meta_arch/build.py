"""META_ARCH_REGISTRY and ``build_model``: the configured meta-architecture on the configured device."""
from __future__ import annotations

import logging

from ...utils.device import resolve_device
from ...utils.registry import Registry

__all__ = ["META_ARCH_REGISTRY", "build_model"]

META_ARCH_REGISTRY = Registry("META_ARCH")
META_ARCH_REGISTRY.__doc__ = """Meta-architectures: ``nn.Module`` classes built by ``from_config(cfg)``.

``forward(batch)`` takes the loader's batch dict (images, targets, camids, modality, attributes,
attribute_mask, img_paths), moves what it needs to its own device, and returns a dict of scalar
losses in training mode, or a dict of features (``FC``, ``POOL``, ...) in eval mode.
"""


def build_model(cfg):
    name = cfg.MODEL.META_ARCHITECTURE
    model = META_ARCH_REGISTRY.build(name, cfg)
    model.to(resolve_device(cfg.MODEL.DEVICE))
    logging.getLogger(__name__).debug("Built meta-architecture %s", name)
    return model
