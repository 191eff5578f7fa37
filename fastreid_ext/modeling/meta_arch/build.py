"""META_ARCH_REGISTRY and ``build_model``: the configured meta-architecture on the configured device."""
from __future__ import annotations

import logging

from ...utils.device import resolve_device
from ...utils.registry import Registry

__all__ = ["META_ARCH_REGISTRY", "build_model", "convert_norm"]

META_ARCH_REGISTRY = Registry("META_ARCH", builtins="fastreid_ext.modeling")
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


def convert_norm(model, norm: str = "BN"):
    """``MODEL.NORM``: "BN" keeps the model; "SyncBN" turns every BatchNorm (backbone and necks) into
    ``torch.nn.SyncBatchNorm`` when more than one process trains (one process: plain BN is the same)."""
    import torch
    from ...utils import comm

    if norm not in ("BN", "SyncBN"):
        raise ValueError(f"MODEL.NORM is '{norm}'; expected 'BN' or 'SyncBN'.")
    if norm == "BN" or comm.get_world_size() == 1:
        return model
    p = next(model.parameters(), None)
    device = p.device.type if p is not None else "cpu"
    if device not in ("cuda", "xpu"):
        raise ValueError(f"MODEL.NORM is 'SyncBN' but the model is on {device}: torch.nn.SyncBatchNorm runs on CUDA "
                         "(or XPU) devices only; use MODEL.NORM BN (rank 0's BN statistics are broadcast) on CPU.")
    return torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
