"""MMD-ReID baseline: two-stream ResNet → pool → BNNeck → identity classifier
(docs/protocols.md#backbone-split and #losses).

Other meta-architectures build on its attributes (``backbone``, ``pool``, ``bottleneck``,
``classifier``, ``feat_dim``, ``device``) and methods (``preprocess``, ``extract``, ``losses``);
a subclass adds loss terms by extending ``LOSS_OUTPUT_NAMES`` and overriding ``compute_loss``.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..backbones.build import build_backbone
from ..layers import build_neck, build_pooling
from ..losses import cross_entropy_loss, global_mmd_loss, hetero_center_triplet_loss, margin_mmd_loss
from .build import META_ARCH_REGISTRY

__all__ = ["CrossModalBaseline", "loss_params_from_config"]

_TENSOR_KEYS = ("images", "targets", "camids", "modality", "attributes", "attribute_mask")


def loss_params_from_config(cfg) -> dict[str, dict[str, Any]]:
    """Hyper-parameters and weight (``scale``) of every built-in loss, keyed by MODEL.LOSSES.NAME entries."""
    L = cfg.MODEL.LOSSES
    return {
        "CrossEntropyLoss": {"scale": L.CE.SCALE, "epsilon": L.CE.EPSILON},
        "HeteroCenterTripletLoss": {"scale": L.HCTRI.SCALE, "margin": L.HCTRI.MARGIN},
        "MarginMMDLoss": {"scale": L.MMD.SCALE, "margin": L.MMD.MARGIN, "num_kernels": L.MMD.NUM_KERNELS,
                          "kernel_mul": L.MMD.KERNEL_MUL},
        "GlobalMMDLoss": {"scale": L.GLOBAL_MMD.SCALE, "num_kernels": L.GLOBAL_MMD.NUM_KERNELS,
                          "kernel_mul": L.GLOBAL_MMD.KERNEL_MUL},
    }


@META_ARCH_REGISTRY.register()
class CrossModalBaseline(nn.Module):
    """Train: ``{"loss_cls", "loss_hctri", "loss_mmd", ...}`` (weighted). Eval: ``{"FC", "POOL"}`` (B×D)."""

    TRAINING_ONLY_PREFIXES = ("classifier.",)
    # MODEL.LOSSES.NAME entry → key of the returned (and logged) loss.
    LOSS_OUTPUT_NAMES = {
        "CrossEntropyLoss": "loss_cls",
        "HeteroCenterTripletLoss": "loss_hctri",
        "MarginMMDLoss": "loss_mmd",
        "GlobalMMDLoss": "loss_gmmd",
    }

    def __init__(self, *, backbone: nn.Module, pool: nn.Module, bottleneck: nn.Module, num_classes: int,
                 loss_names: list[str], loss_params: dict[str, dict[str, Any]]):
        super().__init__()
        unknown = [n for n in loss_names if n not in self.LOSS_OUTPUT_NAMES]
        if unknown:
            raise ValueError(f"MODEL.LOSSES.NAME has {unknown}, unknown to {type(self).__name__}; "
                             f"expected names among {sorted(self.LOSS_OUTPUT_NAMES)}.")
        self.backbone = backbone
        self.pool = pool
        self.bottleneck = bottleneck
        self.feat_dim = backbone.out_channels
        self.num_classes = int(num_classes)
        self.classifier = None
        if self.num_classes > 0:
            self.classifier = nn.Linear(self.feat_dim, self.num_classes, bias=False)
            nn.init.normal_(self.classifier.weight, 0.0, 0.001)
        self.loss_names = list(loss_names)
        self.loss_params = {n: dict(loss_params.get(n, {})) for n in self.loss_names}

    @classmethod
    def init_kwargs(cls, cfg) -> dict[str, Any]:
        """Constructor arguments from the config; subclasses extend the dict and pass it to ``cls``."""
        backbone = build_backbone(cfg)
        return {
            "backbone": backbone,
            "pool": build_pooling(cfg),
            "bottleneck": build_neck(cfg, backbone.out_channels),
            "num_classes": cfg.MODEL.HEADS.NUM_CLASSES,
            "loss_names": list(cfg.MODEL.LOSSES.NAME),
            "loss_params": loss_params_from_config(cfg),
        }

    @classmethod
    def from_config(cls, cfg):
        return cls(**cls.init_kwargs(cfg))

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def preprocess(self, batch: dict) -> dict:
        """A shallow copy of the batch with its tensors on the model's device."""
        device = self.device
        return {k: (v.to(device, non_blocking=True) if k in _TENSOR_KEYS and torch.is_tensor(v) else v)
                for k, v in batch.items()}

    def extract(self, images: torch.Tensor, modality: torch.Tensor) -> dict[str, torch.Tensor]:
        """Feature map ``MAP`` (B×C×h×w), pooled ``POOL`` (pre-BN) and ``FC`` (after the neck)."""
        fmap = self.backbone(images, modality)
        pooled = self.pool(fmap)
        return {"MAP": fmap, "POOL": pooled, "FC": self.bottleneck(pooled)}

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        batch = self.preprocess(batch)
        feats = self.extract(batch["images"], batch["modality"])
        if not self.training:
            return {"FC": feats["FC"], "POOL": feats["POOL"]}
        logits = self.classifier(feats["FC"]) if self.classifier is not None else None
        return self.losses(feats["POOL"], logits, batch)

    def losses(self, features: torch.Tensor, logits: torch.Tensor | None, batch: dict) -> dict[str, torch.Tensor]:
        """The configured terms, each multiplied by its ``scale``; metric losses use the pre-BN feature."""
        return {self.LOSS_OUTPUT_NAMES[name]: self.compute_loss(name, features, logits, batch) *
                self.loss_params[name].get("scale", 1.0) for name in self.loss_names}

    def compute_loss(self, name: str, features: torch.Tensor, logits: torch.Tensor | None, batch: dict) -> torch.Tensor:
        """One unweighted term; subclasses handle their own names and defer the rest here."""
        p = {k: v for k, v in self.loss_params[name].items() if k != "scale"}
        targets, modality = batch["targets"], batch["modality"]
        if name == "CrossEntropyLoss":
            if logits is None:
                raise ValueError("CrossEntropyLoss is in MODEL.LOSSES.NAME but the model has no classifier: "
                                 "MODEL.HEADS.NUM_CLASSES is 0 (the trainer sets it from the training set).")
            return cross_entropy_loss(logits, targets, modality, **p)
        if name == "HeteroCenterTripletLoss":
            return hetero_center_triplet_loss(features, targets, modality, **p)
        if name == "MarginMMDLoss":
            return margin_mmd_loss(features, targets, modality, **p)
        if name == "GlobalMMDLoss":
            return global_mmd_loss(features, targets, modality, **p)
        raise ValueError(f"{type(self).__name__} has no implementation for loss '{name}'.")
