"""The ``DDAG`` meta-architecture (Ye et al., ECCV 2020, as the public mangye16/DDAG ``model_main.py``
computes it with ``--wpa --graph``).

Two-stream ResNet (stem per modality, layer1-4 shared, last stride 1) → average pool → BNNeck →
identity classifier; IWPA on the final map and the necked feature; in training, graph attention
over the batch with an adjacency from the batch labels (so the training forward needs ``targets``).

Train: ``loss_cls`` (CE of the necked feature), ``loss_triplet`` (batch-hard on the pooled
feature), ``loss_part`` (CE of the IWPA feature through the same classifier), ``loss_graph``
(w_G · NLL of the graph output, w_G from :class:`AdaptiveGraphWeight`). Eval: ``FC`` (IWPA feature,
the public code's selection feature), ``BN`` (necked global feature), ``POOL`` (pooled).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from fastreid_ext.modeling.backbones.build import build_backbone
from fastreid_ext.modeling.layers import BNNeck, GlobalAvgPool
from fastreid_ext.modeling.meta_arch import META_ARCH_REGISTRY, CrossModalBaseline
from fastreid_ext.utils.errors import UserError

from .graph_attention import CrossModalityGraphAttention, label_adjacency
from .graph_weight import AdaptiveGraphWeight
from .losses import batch_hard_triplet_loss
from .part_attention import WeightedPartAttention
from .public_checkpoint import is_public_ddag_state_dict, public_ddag_to_ours

__all__ = ["DDAG"]

_SCHEDULES = ("adaptive", "fixed")


@META_ARCH_REGISTRY.register()
class DDAG(nn.Module):
    TRAINING_ONLY_PREFIXES = ("classifier.", "graph.", "graph_weight.")
    preprocess = CrossModalBaseline.preprocess

    def __init__(self, *, backbone: nn.Module, num_classes: int, parts: int = 3, triplet_margin: float = 0.3,
                 graph: bool = True, graph_heads: int = 4, graph_low_dim: int = 512, graph_dropout: float = 0.2,
                 graph_alpha: float = 0.2, graph_weight_schedule: str = "adaptive", graph_weight: float = 1.0):
        super().__init__()
        if graph_weight_schedule not in _SCHEDULES:
            raise UserError(f"DDAG.GRAPH.WEIGHT_SCHEDULE '{graph_weight_schedule}' not in {_SCHEDULES}.")
        self.backbone = backbone
        self.feat_dim = backbone.out_channels
        self.pool = GlobalAvgPool()
        self.bottleneck = BNNeck(self.feat_dim)
        self.wpa = WeightedPartAttention(self.feat_dim, parts)
        self.classifier = None
        self.graph = None
        if num_classes > 0:
            self.classifier = nn.Linear(self.feat_dim, num_classes, bias=False)
            nn.init.normal_(self.classifier.weight, 0.0, 0.001)
            if graph:
                self.graph = CrossModalityGraphAttention(self.feat_dim, graph_low_dim, num_classes, graph_heads,
                                                         graph_dropout, graph_alpha)
        self.graph_weight = AdaptiveGraphWeight(graph_weight_schedule == "adaptive", graph_weight)
        self.triplet_margin = float(triplet_margin)
        self.skipped_checkpoint_keys: list[str] = []

    @classmethod
    def from_config(cls, cfg):
        d, g = cfg.DDAG, cfg.DDAG.GRAPH
        return cls(backbone=build_backbone(cfg), num_classes=cfg.MODEL.HEADS.NUM_CLASSES, parts=d.PARTS,
                   triplet_margin=d.TRIPLET_MARGIN, graph=g.ENABLED, graph_heads=g.HEADS, graph_low_dim=g.LOW_DIM,
                   graph_dropout=g.DROPOUT, graph_alpha=g.ALPHA, graph_weight_schedule=g.WEIGHT_SCHEDULE,
                   graph_weight=g.WEIGHT)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # PAENetMapBase (projects/PAENet/README.md): PAE reads the shared layer4 map; IWPA, the BNNeck and the
    # graph run on the map PAENet re-weighted, so all four terms and the graph-weight schedule stay.
    @property
    def map_channels(self) -> int:
        return self.feat_dim

    def backbone_map(self, images: torch.Tensor, modality: torch.Tensor) -> torch.Tensor:
        return self.backbone(images, modality)

    def features_from_map(self, fmap: torch.Tensor) -> dict[str, torch.Tensor]:
        pooled = self.pool(fmap)
        feat = self.bottleneck(pooled)
        return {"MAP": fmap, "POOL": pooled, "BN": feat, "FC": self.wpa(fmap, feat)}

    def extract(self, images: torch.Tensor, modality: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.features_from_map(self.backbone_map(images, modality))

    @staticmethod
    def inference(feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"FC": feats["FC"], "BN": feats["BN"], "POOL": feats["POOL"]}

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        batch = self.preprocess(batch)
        if self.training and "targets" not in batch:
            raise UserError("DDAG's training forward needs the batch labels ('targets'): its graph attention builds "
                            "the adjacency from them. In eval mode it needs none.")
        feats = self.extract(batch["images"], batch["modality"])
        if not self.training:
            return self.inference(feats)
        return self.training_losses(feats, batch)

    def training_losses(self, feats: dict[str, torch.Tensor], batch: dict) -> dict[str, torch.Tensor]:
        """Its four terms (the graph's adjacency from ``batch["targets"]``)."""
        if self.classifier is None:
            raise UserError("DDAG needs an identity classifier: MODEL.HEADS.NUM_CLASSES is 0 (the trainer sets it "
                            "from the training set).")
        targets = batch["targets"].long()
        out: dict[str, Any] = {
            "loss_cls": F.cross_entropy(self.classifier(feats["BN"]), targets),
            "loss_triplet": batch_hard_triplet_loss(feats["POOL"], targets, self.triplet_margin),
            "loss_part": F.cross_entropy(self.classifier(feats["FC"]), targets),
        }
        if self.graph is not None:
            log_probs = self.graph(feats["POOL"], label_adjacency(targets))
            weight = self.graph_weight.step(sum(out.values()))
            out["loss_graph"] = weight * F.nll_loss(log_probs, targets)
        return out

    def remap_checkpoint_keys(self, state_dict: dict) -> dict:
        """Public DDAG names → ours (our own checkpoints pass through unchanged)."""
        if not is_public_ddag_state_dict(state_dict):
            return state_dict
        mapped, self.skipped_checkpoint_keys = public_ddag_to_ours(state_dict, self.backbone.specific_stages,
                                                                   self.backbone.shared_stages)
        return mapped
