"""The ``MPANet`` meta-architecture (Wu et al., CVPR 2021, as the public DoubtedSteam/MPANet
``models/baseline.py`` computes it with its SYSU/RegDB configs).

One ResNet for both modalities with modality alleviation (MAM) after layer3 and layer4, last stride 1
→ pattern alignment (P masks → P part features + the global average, concatenated) → BatchNorm neck
(bias fixed at 0) → identity classifier; per-modality classifiers with mean teachers (mutual mean learning).

Train: ``loss_sep`` (w_sep · mask separation), ``loss_center_cluster`` (on the pre-neck feature),
``loss_cls`` (CE of the neck feature), ``loss_sid`` (w_sid · modality-specific CEs), ``loss_kl``
(w_KL · KL to the other modality's teacher). Eval: ``BN`` (the neck feature: the public test
feature), ``POOL`` (the concatenated feature before the neck). Parameter names are the public ones.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fastreid_ext.modeling.layers import GlobalAvgPool
from fastreid_ext.modeling.meta_arch import META_ARCH_REGISTRY, CrossModalBaseline
from fastreid_ext.utils.errors import UserError

from .backbone import MPANetResNet
from .center_cluster import center_cluster_loss
from .mutual_mean import MutualMeanLearning
from .pattern_alignment import PatternAlignment, mask_separation_loss
from .public_checkpoint import is_public_mpanet_state_dict, public_mpanet_to_ours

__all__ = ["MPANet"]

INFRARED = 1


@META_ARCH_REGISTRY.register()
class MPANet(nn.Module):
    TRAINING_ONLY_PREFIXES = ("classifier.", "mutual.")
    preprocess = CrossModalBaseline.preprocess

    def __init__(self, *, backbone: MPANetResNet, num_classes: int, num_parts: int = 6, sep_weight: float = 0.5,
                 mutual: bool = True, update_rate: float = 0.2, rate_decay_epoch: int = 100,
                 sid_weight: float = 1.0, kl_weight: float = 2.5,
                 center_cluster: bool = True, margin: float = 0.7):
        super().__init__()
        self.backbone = backbone
        self.pattern = PatternAlignment(backbone.out_channels, num_parts)
        self.pool = GlobalAvgPool()  # no parameters: the global part of the pattern feature, as a module
        self.feat_dim = backbone.out_channels * self.pattern.out_dim_factor
        self.bn_neck = nn.BatchNorm1d(self.feat_dim)
        nn.init.zeros_(self.bn_neck.bias)
        self.bn_neck.bias.requires_grad_(False)
        self.classifier = nn.Linear(self.feat_dim, num_classes, bias=False) if num_classes > 0 else None
        self.mutual = None
        if mutual and num_classes > 0:
            self.mutual = MutualMeanLearning(self.feat_dim, num_classes, update_rate, rate_decay_epoch)
        self.sep_weight, self.sid_weight, self.kl_weight = float(sep_weight), float(sid_weight), float(kl_weight)
        self.center_cluster, self.margin = bool(center_cluster), float(margin)
        self.skipped_checkpoint_keys: list[str] = []

    @classmethod
    def from_config(cls, cfg):
        b, m = cfg.MODEL.BACKBONE, cfg.MPANET
        backbone = MPANetResNet(depth=b.DEPTH, last_stride=b.LAST_STRIDE, mam_stages=m.MAM_STAGES,
                                mam_reduction=m.MAM_REDUCTION)
        backbone.load_imagenet(b.PRETRAIN, b.PRETRAIN_PATH)
        return cls(backbone=backbone, num_classes=cfg.MODEL.HEADS.NUM_CLASSES, num_parts=m.NUM_PARTS,
                   sep_weight=m.SEP_WEIGHT, mutual=m.MUTUAL.ENABLED, update_rate=m.MUTUAL.UPDATE_RATE,
                   rate_decay_epoch=m.MUTUAL.RATE_DECAY_EPOCH,
                   sid_weight=m.MUTUAL.SID_WEIGHT, kl_weight=m.MUTUAL.KL_WEIGHT,
                   center_cluster=m.CENTER_CLUSTER.ENABLED, margin=m.CENTER_CLUSTER.MARGIN)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # PAENetMapBase (projects/PAENet/README.md): PAE reads the layer4 map after MAM; the pattern masks, the
    # neck and every term (separation, center-cluster, CE, mutual mean) run on the map PAENet re-weighted.
    @property
    def map_channels(self) -> int:
        return self.backbone.out_channels

    def backbone_map(self, images: torch.Tensor, modality: torch.Tensor | None = None) -> torch.Tensor:
        """One network for both modalities: ``modality`` is not used."""
        return self.backbone(images)

    def features_from_map(self, fmap: torch.Tensor) -> dict[str, torch.Tensor]:
        pooled, masks = self.pattern(fmap)
        return {"MAP": fmap, "MASKS": masks, "POOL": pooled, "BN": self.bn_neck(pooled)}

    def extract(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.features_from_map(self.backbone_map(images))

    @staticmethod
    def inference(feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"BN": feats["BN"], "POOL": feats["POOL"]}

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        batch = self.preprocess(batch)
        feats = self.extract(batch["images"])
        if not self.training:
            return self.inference(feats)
        if "targets" not in batch:
            raise UserError("MPANet's training forward needs the batch labels ('targets'); in eval mode it needs none.")
        return self.training_losses(feats, batch)

    def training_losses(self, feats: dict[str, torch.Tensor], batch: dict) -> dict[str, torch.Tensor]:
        if self.classifier is None:
            raise UserError("MPANet needs an identity classifier: MODEL.HEADS.NUM_CLASSES is 0 (the trainer sets it "
                            "from the training set).")
        targets = batch["targets"].long()
        pooled = feats["POOL"].float()
        # under AMP the mask products run in half precision, as under its apex O1; the terms are float32
        out = {"loss_sep": self.sep_weight * mask_separation_loss(feats["MASKS"]).float()}
        if self.center_cluster:
            out["loss_center_cluster"] = center_cluster_loss(pooled, targets, self.margin)
        out["loss_cls"] = F.cross_entropy(self.classifier(feats["BN"]).float(), targets)
        if self.mutual is not None:
            infrared = batch["modality"].view(-1) == INFRARED
            if bool(infrared.all()) or not bool(infrared.any()):
                raise UserError("MPANet's mutual mean learning needs both modalities in every training batch "
                                "(use the cross-modality identity sampler).")
            terms = self.mutual.losses(feats["BN"], targets, infrared)
            out["loss_sid"] = self.sid_weight * terms["loss_sid"]
            out["loss_kl"] = self.kl_weight * terms["loss_kl"]
        return out

    def remap_checkpoint_keys(self, state_dict: dict) -> dict:
        """Public MPANet names → ours (our own checkpoints pass through unchanged)."""
        if not is_public_mpanet_state_dict(state_dict):
            return state_dict
        mapped, self.skipped_checkpoint_keys = public_mpanet_to_ours(state_dict)
        return mapped
