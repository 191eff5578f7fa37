"""The published HCT model (Liu et al., TMM 2020; hijune6/Hetero-center-triplet-loss-for-VT-Re-ID,
``embed_net(pcb='on')``): two-stream ResNet, a 6-stripe PCB head, per-stripe identity and
hetero-center triplet losses, the concatenated stripes as the test feature.

Train: ``loss_cls`` = Σ_i CE(classifier_i(f_i)), ``loss_hctri`` = w_center · Σ_i HcTri(f_i) and
``loss_hctri_concat`` = HcTri([f_1 … f_S]) (its ``train_mine.py``). Eval: ``FC`` = [f_1 … f_S] (what its
test feature is before the L2 norm) and ``POOL`` = the concatenated GeM stripe vectors before the
reduction. The global-feature HCT (its ``--pcb off``) stays a ``CrossModalBaseline`` config.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .hct_pcb_checkpoint import hct_pcb_to_ours, is_hct_pcb_state_dict
from ...utils.errors import UserError
from ..backbones.build import build_backbone
from ..layers.stripes import StripeHead
from ..losses import cross_entropy_loss, hetero_center_triplet_loss
from .baseline import CrossModalBaseline
from .build import META_ARCH_REGISTRY

__all__ = ["HCTPCB", "feature_map_height"]


def feature_map_height(height: int, last_stride: int) -> int:
    """Rows of a torchvision ResNet's layer4 map for an input of ``height`` rows."""
    h = (height + 2 * 3 - 7) // 2 + 1  # conv1
    for _ in range(3 + (last_stride == 2)):  # maxpool, layer2, layer3 (, layer4)
        h = (h + 2 - 3) // 2 + 1
    return h


@META_ARCH_REGISTRY.register()
class HCTPCB(nn.Module):
    """Train: ``{"loss_cls", "loss_hctri", "loss_hctri_concat"}``. Eval: ``{"FC", "POOL"}``."""

    TRAINING_ONLY_PREFIXES = ("classifiers.",)
    LOSSES = ("CrossEntropyLoss", "HeteroCenterTripletLoss")
    preprocess = CrossModalBaseline.preprocess

    def __init__(self, *, backbone: nn.Module, head: StripeHead, num_classes: int, loss_names: list[str],
                 ce_epsilon: float = 0.0, ce_scale: float = 1.0, margin: float = 0.3, stripe_triplet_scale: float = 1.0,
                 concat_triplet_scale: float = 1.0):
        super().__init__()
        unknown = [n for n in loss_names if n not in self.LOSSES]
        if unknown:
            raise UserError(f"MODEL.LOSSES.NAME has {unknown}, unknown to HCTPCB; expected names among {list(self.LOSSES)}.")
        self.backbone, self.head = backbone, head
        self.feat_dim = head.out_dim
        self.classifiers = None
        if num_classes > 0:
            self.classifiers = nn.ModuleList(nn.Linear(head.local_dim, num_classes) for _ in range(head.num_stripes))
            for fc in self.classifiers:
                nn.init.normal_(fc.weight, std=0.001)
                nn.init.zeros_(fc.bias)
        self.loss_names = list(loss_names)
        self.ce_epsilon, self.ce_scale = float(ce_epsilon), float(ce_scale)
        self.margin = float(margin)
        self.stripe_triplet_scale, self.concat_triplet_scale = float(stripe_triplet_scale), float(concat_triplet_scale)
        self.skipped_checkpoint_keys: list[str] = []

    @classmethod
    def from_config(cls, cfg):
        p, L = cfg.MODEL.PCB, cfg.MODEL.LOSSES
        for key in ("SIZE_TRAIN", "SIZE_TEST"):
            h = feature_map_height(int(cfg.INPUT[key][0]), cfg.MODEL.BACKBONE.LAST_STRIDE)
            if h % p.NUM_STRIPES:
                raise UserError(f"INPUT.{key} {list(cfg.INPUT[key])} gives a feature map {h} rows high (LAST_STRIDE "
                                f"{cfg.MODEL.BACKBONE.LAST_STRIDE}), not a multiple of MODEL.PCB.NUM_STRIPES "
                                f"{p.NUM_STRIPES}; e.g. 288 (18 rows) or 96 (6 rows) with last stride 1.")
        backbone = build_backbone(cfg)
        return cls(backbone=backbone, head=StripeHead(backbone.out_channels, p.NUM_STRIPES, p.LOCAL_DIM, p.GEM_P),
                   num_classes=cfg.MODEL.HEADS.NUM_CLASSES, loss_names=list(L.NAME), ce_epsilon=L.CE.EPSILON,
                   ce_scale=L.CE.SCALE, margin=L.HCTRI.MARGIN, stripe_triplet_scale=L.HCTRI.SCALE,
                   concat_triplet_scale=p.CONCAT_HCTRI_SCALE)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # PAENetMapBase (projects/PAENet/README.md): PAE reads the layer4 map; the stripes are cut from the map
    # PAENet re-weighted, so the per-stripe and concatenated terms stay.
    @property
    def map_channels(self) -> int:
        return self.backbone.out_channels

    @property
    def pool(self) -> nn.Module:
        """The stripes' GeM, applied to the whole map: the global vector PAE reads."""
        return self.head.pool

    def backbone_map(self, images: torch.Tensor, modality: torch.Tensor) -> torch.Tensor:
        return self.backbone(images, modality)

    def features_from_map(self, fmap: torch.Tensor) -> dict[str, Any]:
        """``MAP``, the stripes' ``LOCAL`` features and pooled ``STRIPES``, and their concatenations."""
        local, pooled = self.head(fmap)
        return {"MAP": fmap, "LOCAL": local, "STRIPES": pooled, "FC": torch.cat(local, 1), "POOL": torch.cat(pooled, 1)}

    def extract(self, images: torch.Tensor, modality: torch.Tensor) -> dict[str, Any]:
        return self.features_from_map(self.backbone_map(images, modality))

    @staticmethod
    def inference(feats: dict[str, Any]) -> dict[str, torch.Tensor]:
        return {"FC": feats["FC"], "POOL": feats["POOL"]}

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        batch = self.preprocess(batch)
        feats = self.extract(batch["images"], batch["modality"])
        if not self.training:
            return self.inference(feats)
        return self.training_losses(feats, batch)

    def training_losses(self, feats: dict[str, Any], batch: dict) -> dict[str, torch.Tensor]:
        targets, modality = batch["targets"], batch["modality"]
        out = {}
        if "CrossEntropyLoss" in self.loss_names:
            if self.classifiers is None:
                raise UserError("CrossEntropyLoss is in MODEL.LOSSES.NAME but HCTPCB has no classifiers: "
                                "MODEL.HEADS.NUM_CLASSES is 0 (the trainer sets it from the training set).")
            out["loss_cls"] = self.ce_scale * sum(cross_entropy_loss(fc(f), targets, modality, epsilon=self.ce_epsilon)
                                                  for fc, f in zip(self.classifiers, feats["LOCAL"]))
        if "HeteroCenterTripletLoss" in self.loss_names:
            out["loss_hctri"] = self.stripe_triplet_scale * sum(
                hetero_center_triplet_loss(f, targets, modality, margin=self.margin) for f in feats["LOCAL"])
            out["loss_hctri_concat"] = self.concat_triplet_scale * hetero_center_triplet_loss(
                feats["FC"], targets, modality, margin=self.margin)
        return out

    def remap_checkpoint_keys(self, state_dict: dict) -> dict:
        """Published HCT PCB names → ours (our own checkpoints pass through unchanged)."""
        if not is_hct_pcb_state_dict(state_dict):
            return state_dict
        mapped, self.skipped_checkpoint_keys = hct_pcb_to_ours(state_dict, self.backbone.specific_stages,
                                                               self.backbone.shared_stages)
        return mapped
