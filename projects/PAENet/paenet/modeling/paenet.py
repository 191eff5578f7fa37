"""The ``PAENet`` meta-architecture: a base meta-architecture (built by name from
``PAENET.BASE_ARCHITECTURE``) with PAE and AAL attached by composition.

Train: the base's loss terms on (f_id, logits) plus ``loss_attr`` = λ·masked BCE.
Eval: ``{"FC": f_bn, "POOL": f_id, "attribute_probs"}`` (the last one when AAL is on), with the
attribute input chosen by ``batch["attribute_source"]`` (gt | predicted | zeros).
"""
from __future__ import annotations

import logging

import torch
from torch import nn

from fastreid_ext.modeling.meta_arch.build import META_ARCH_REGISTRY

from .aal import AttributeAuxiliaryLearning
from .attribute_loss import masked_attribute_bce
from .official_checkpoint import is_official_state_dict, official_to_paenet
from .pae import ProgressiveAttributeEmbedding

__all__ = ["PAENet", "ATTRIBUTE_SOURCES"]

ATTRIBUTE_SOURCES = ("gt", "predicted", "zeros")
_BASE_API = ("extract", "preprocess", "losses", "pool", "classifier", "feat_dim")
logger = logging.getLogger(__name__)


class _IdentityNeck(nn.BatchNorm1d):
    """BN1d after f_id (official ``region.bottleneck``): weight ~ N(1, 0.01), frozen zero bias."""

    def __init__(self, dim: int):
        super().__init__(dim)
        nn.init.normal_(self.weight, 1.0, 0.01)
        nn.init.zeros_(self.bias)
        self.bias.requires_grad_(False)


@META_ARCH_REGISTRY.register()
class PAENet(nn.Module):
    # The identity classifier's class count differs between datasets; not used for retrieval.
    TRAINING_ONLY_PREFIXES = ("base.classifier.",)

    def __init__(self, *, base: nn.Module, pae: ProgressiveAttributeEmbedding, aal: AttributeAuxiliaryLearning,
                 num_attributes: int, attribute_loss_weight: float = 1.0, default_attribute_source: str = "gt",
                 predicted_attributes: str = "threshold", predicted_threshold: float = 0.5):
        super().__init__()
        missing = [a for a in _BASE_API if not hasattr(base, a)]
        if missing:
            raise TypeError(f"PAENET.BASE_ARCHITECTURE {type(base).__name__} lacks {missing}; PAENet attaches to "
                            f"meta-architectures with the CrossModalBaseline interface {list(_BASE_API)}.")
        if default_attribute_source not in ATTRIBUTE_SOURCES:
            raise ValueError(f"PAENET.DEFAULT_ATTRIBUTE_SOURCE '{default_attribute_source}' not in {ATTRIBUTE_SOURCES}.")
        if predicted_attributes not in ("threshold", "probability"):
            raise ValueError(f"PAENET.PREDICTED_ATTRIBUTES '{predicted_attributes}' not in ('threshold', 'probability').")
        self.base = base
        self.pae = pae
        self.aal = aal
        self.identity_neck = _IdentityNeck(base.feat_dim)
        self.num_attributes = num_attributes
        self.attribute_loss_weight = float(attribute_loss_weight)
        self.default_attribute_source = default_attribute_source
        self.predicted_attributes = predicted_attributes
        self.predicted_threshold = float(predicted_threshold)
        self.skipped_checkpoint_keys: list[str] = []

    @classmethod
    def from_config(cls, cfg):
        p = cfg.PAENET
        if p.BASE_ARCHITECTURE == "PAENet":
            raise ValueError("PAENET.BASE_ARCHITECTURE cannot be PAENet itself; use e.g. CrossModalBaseline.")
        n = int(cfg.MODEL.NUM_ATTRIBUTES)
        if n <= 0:
            raise ValueError("PAENet needs MODEL.NUM_ATTRIBUTES > 0 (the trainer sets it from the training set's "
                             "attributes; set it explicitly when building the model by hand).")
        base = META_ARCH_REGISTRY.build(p.BASE_ARCHITECTURE, cfg)
        dim = base.feat_dim
        pae = ProgressiveAttributeEmbedding(
            p.VARIANT, dim, n, enabled=p.PAE.ENABLED, embedding_i=p.PAE.EMBEDDING_I, embedding_ii=p.PAE.EMBEDDING_II,
            embedding_iii=p.PAE.EMBEDDING_III, num_heads=p.PAPER.NUM_HEADS, ffn_ratio=p.PAPER.FFN_RATIO,
            spatial_reduction=p.PAPER.SPATIAL_REDUCTION, gate_reduction=p.PAPER.GATE_REDUCTION)
        aal = AttributeAuxiliaryLearning(p.VARIANT, dim, n, enabled=p.AAL.ENABLED, reduction=p.PAPER.AAL_REDUCTION,
                                         attribute_dim=p.PAPER.ATTRIBUTE_DIM)
        return cls(base=base, pae=pae, aal=aal, num_attributes=n, attribute_loss_weight=p.AAL.LOSS_WEIGHT,
                   default_attribute_source=p.DEFAULT_ATTRIBUTE_SOURCE,
                   predicted_attributes=p.PREDICTED_ATTRIBUTES, predicted_threshold=p.PREDICTED_THRESHOLD)

    @property
    def device(self) -> torch.device:
        return self.base.device

    # ------------------------------------------------------------------ forward
    def head(self, fmap: torch.Tensor, pooled: torch.Tensor, f: torch.Tensor, attributes: torch.Tensor):
        """PAE + AAL on the base's map / pooled / neck features → (f_id, f_bn, attribute logits or None)."""
        gates = self.pae(fmap, f, attributes)
        f_id = self.aal.identity_feature(fmap, gates, self.base.pool)
        return f_id, self.identity_neck(f_id), self.aal.attribute_logits(gates, pooled)

    def _attributes(self, batch: dict, batch_size: int, like: torch.Tensor) -> torch.Tensor:
        a = batch.get("attributes")
        if a is None or a.dim() != 2 or a.shape[1] != self.num_attributes or a.shape[0] != batch_size:
            shape = None if a is None else tuple(a.shape)
            raise ValueError(f"PAENet needs batch['attributes'] of shape B×{self.num_attributes} "
                             f"(MODEL.NUM_ATTRIBUTES); got {shape}. Enable DATASETS.ATTRIBUTES for this dataset.")
        return a.to(device=like.device, dtype=like.dtype)

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        batch = self.base.preprocess(batch)
        feats = self.base.extract(batch["images"], batch["modality"])
        fmap, pooled, f = feats["MAP"], feats["POOL"], feats["FC"]
        if self.training:
            return self._losses(fmap, pooled, f, batch)
        return self._inference(fmap, pooled, f, batch)

    def _losses(self, fmap, pooled, f, batch) -> dict[str, torch.Tensor]:
        a = self._attributes(batch, f.shape[0], f)
        f_id, f_bn, attr_logits = self.head(fmap, pooled, f, a)
        classifier = self.base.classifier
        losses = self.base.losses(f_id, classifier(f_bn) if classifier is not None else None, batch)
        if attr_logits is not None and self.attribute_loss_weight != 0:
            losses["loss_attr"] = self.attribute_loss_weight * masked_attribute_bce(
                attr_logits, a, batch.get("attribute_mask"))
        return losses

    def _inference(self, fmap, pooled, f, batch) -> dict[str, torch.Tensor]:
        source = batch.get("attribute_source") or self.default_attribute_source
        if source not in ATTRIBUTE_SOURCES:
            raise ValueError(f"batch['attribute_source'] is '{source}'; expected one of {ATTRIBUTE_SOURCES}.")
        b = f.shape[0]
        if source == "gt":
            a = self._attributes(batch, b, f)
        else:
            a = f.new_zeros(b, self.num_attributes)
        if source == "predicted":
            if not self.aal.enabled:
                raise ValueError("attribute_source 'predicted' needs the attribute heads (PAENET.AAL.ENABLED True).")
            probs = torch.sigmoid(self.head(fmap, pooled, f, a)[2])
            a = (probs > self.predicted_threshold).to(f.dtype) if self.predicted_attributes == "threshold" else probs
        f_id, f_bn, attr_logits = self.head(fmap, pooled, f, a)
        out = {"FC": f_bn, "POOL": f_id}
        if attr_logits is not None:
            out["attribute_probs"] = torch.sigmoid(attr_logits)
        return out

    # -------------------------------------------------------------- checkpoints
    def remap_checkpoint_keys(self, state_dict: dict) -> dict:
        """Called by the checkpointer on every loaded state dict: official names → ours, dead keys dropped."""
        if not is_official_state_dict(state_dict):
            return state_dict
        if self.pae.variant != "reference":
            raise ValueError("An official PAENet checkpoint can only be loaded into PAENET.VARIANT 'reference'.")
        mapped, skipped = official_to_paenet(state_dict, self.num_attributes)
        self.skipped_checkpoint_keys = skipped
        logger.info("Official PAENet checkpoint: %d keys mapped, %d dead keys skipped (%s)", len(mapped),
                    len(skipped), sorted({k.rsplit(".", 1)[0] for k in skipped}))
        return mapped
