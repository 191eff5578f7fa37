"""The ``PAENet`` meta-architecture: a base meta-architecture (built by name from
``PAENET.BASE_ARCHITECTURE``) with PAE, AAL and optionally the label-free attribute recognizer
attached by composition. How PAE/AAL combine with the base is the base's protocol (base_protocol.py):
a ``PAENetBase`` gives one global feature (the description below); a ``PAENetMapBase`` runs its own
heads, losses and test features on the map the region branch re-weighted (``_forward_on_map``).

Train: the base's own loss terms on (f_id, logits), plus ``loss_attr`` = λ·masked BCE of the AAL
heads and ``loss_attr_recognizer`` for the recognizer. PAE is fed ``PAENET.TRAIN_ATTRIBUTE_INPUT``.
Eval: ``{"FC": f_bn, "POOL": f_id, "attribute_probs"}``, PAE fed by ``batch["attribute_source"]``
(gt | predicted | zeros); ``attribute_probs`` are the recognizer's when it exists (image only), else
the AAL heads'.
"""
from __future__ import annotations

import logging
import os

import torch
from torch import nn

from fastreid_ext.checkpoint.formats import foreign_format
from fastreid_ext.modeling.input_sources import InputSource
from fastreid_ext.modeling.layers.bnneck import BNNeck
from fastreid_ext.modeling.meta_arch.build import META_ARCH_REGISTRY
from fastreid_ext.utils.errors import UserError

from .base_protocol import (BASE_MEMBERS, MAP_BASE_MEMBERS, PAENetBase, PAENetMapBase, attaches_on_map, check_base,
                            pae_width, training_only_prefixes)
from .attribute_recognition import (TRAIN_ATTRIBUTE_INPUTS, AttributeBalance, attributes_from_probs, build_recognizer,
                                    masked_attribute_bce, mix_attributes)
from .official_checkpoint import OFFICIAL_FORMAT, is_official_state_dict, official_to_paenet
from .paper_variant import PaperAttributeHeads, PaperPAE, PaperRegionBranch
from .reference_variant import ReferenceAttributeHeads, ReferencePAE, ReferenceRegionBranch

__all__ = ["PAENet", "PAENetBase", "PAENetMapBase", "ATTRIBUTE_SOURCES", "VARIANTS", "BASE_MEMBERS", "MAP_BASE_MEMBERS"]

ATTRIBUTE_SOURCES = ("gt", "predicted", "zeros")
VARIANTS = ("reference", "paper")
logger = logging.getLogger(__name__)


# Where each dataset reader looks for attributes when DATASETS.ATTRIBUTES.PATH is empty.
_DEFAULT_ATTRIBUTE_FILES = {"SYSU_MM01": "SYSU-MM01/sysu_attribute/cam{k}_att.mat", "RegDB": "RegDB/attributes.csv"}


class AttributeAuxiliaryLearning(nn.Module):
    """The identity feature from the gated map (Eq. 10) and the attribute heads (Eq. 8–9, when
    enabled). Switching AAL off drops the heads and L_atr and leaves Eq. 10 as it is; switching the
    region branch off (a control) drops Eq. 10: ``region`` is None and the base's feature is used."""

    def __init__(self, variant: str, dim: int, num_attributes: int, *, enabled: bool = True,
                 weighting: str = "literal", reduction: int = 16, attribute_dim: int = 0, region: bool = True):
        super().__init__()
        self.enabled = enabled
        self.region = None
        if region:
            self.region = ReferenceRegionBranch(dim) if variant == "reference" else PaperRegionBranch()
        self.heads = None
        if enabled:
            self.heads = ReferenceAttributeHeads(dim, num_attributes) if variant == "reference" else PaperAttributeHeads(
                dim, num_attributes, weighting=weighting, reduction=reduction, attribute_dim=attribute_dim)

    def identity_feature(self, fmap: torch.Tensor, gates: torch.Tensor, pool: nn.Module) -> torch.Tensor:
        return self.region(fmap, gates, pool)

    def identity_map(self, fmap: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
        """Eq. 10's re-weighted map before pooling (B×C×h×w), for bases with their own heads on it."""
        return self.region(fmap, gates, _keep_map)

    def attribute_logits(self, gates: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor | None:
        return self.heads(gates, pooled) if self.heads is not None else None


def _keep_map(fmap: torch.Tensor) -> torch.Tensor:
    return fmap


def _missing_attributes_error(cfg) -> UserError:
    names = list(cfg.DATASETS.NAMES)
    a = cfg.DATASETS.ATTRIBUTES
    if not a.ENABLED:
        where = "DATASETS.ATTRIBUTES.ENABLED is False"
    elif a.PATH:
        where = f"DATASETS.ATTRIBUTES.PATH '{a.PATH}' gave none"
    else:
        files = [os.path.join(cfg.DATASETS.ROOT, _DEFAULT_ATTRIBUTE_FILES.get(n, f"<{n} attribute file>")) for n in names]
        where = f"missing files: {', '.join(files)} (or set DATASETS.ATTRIBUTES.PATH)"
    return UserError(f"PAENet needs attribute annotations in the training set {names} (MODEL.NUM_ATTRIBUTES is 0): {where}.")


@META_ARCH_REGISTRY.register()
class PAENet(nn.Module):
    # The identity classifier's class count differs between datasets; not used for retrieval.
    TRAINING_ONLY_PREFIXES = ("base.classifier.",)

    def __init__(self, *, base: nn.Module, pae: nn.Module, aal: AttributeAuxiliaryLearning, num_attributes: int,
                 recognizer: nn.Module | None = None, attribute_loss_weight: float = 1.0,
                 attribute_loss_reduction: str = "mean", recognizer_loss_weight: float = 1.0,
                 train_attribute_input: str = "gt", train_predicted_prob: float = 0.5,
                 default_attribute_source: str = "", predicted_attributes: str = "threshold",
                 predicted_threshold: float = 0.5, recognizer_class_balance: bool = False):
        super().__init__()
        check_base(base, type(base).__name__)
        if default_attribute_source and default_attribute_source not in ATTRIBUTE_SOURCES:
            raise UserError(f"PAENET.DEFAULT_ATTRIBUTE_SOURCE '{default_attribute_source}' not in {ATTRIBUTE_SOURCES} "
                            "(or '' for none).")
        if predicted_attributes not in ("threshold", "probability"):
            raise UserError(f"PAENET.PREDICTED_ATTRIBUTES '{predicted_attributes}' not in ('threshold', 'probability').")
        if train_attribute_input not in TRAIN_ATTRIBUTE_INPUTS:
            raise UserError(f"PAENET.TRAIN_ATTRIBUTE_INPUT '{train_attribute_input}' not in {TRAIN_ATTRIBUTE_INPUTS}.")
        if train_attribute_input != "gt" and recognizer is None:
            raise UserError(f"PAENET.TRAIN_ATTRIBUTE_INPUT '{train_attribute_input}' needs the attribute recognizer: "
                            "set PAENET.RECOGNIZER.ENABLED True.")
        self.base, self.pae, self.aal, self.recognizer = base, pae, aal, recognizer
        self.on_map = attaches_on_map(base)
        # official ``region.bottleneck``; without the region branch the base's own neck is used. A map
        # base necks its own features; PAE's input vector gets PAENet's ``input_neck`` instead (the role
        # the base's BNNeck plays for a PAENetBase), so no base neck sees two distributions.
        self.identity_neck = BNNeck(base.feat_dim) if aal.region is not None and not self.on_map else None
        self.input_neck = BNNeck(base.map_channels) if self.on_map else None
        self.TRAINING_ONLY_PREFIXES = training_only_prefixes(base, type(self).TRAINING_ONLY_PREFIXES)
        self.recognizer_balance = (AttributeBalance(num_attributes) if recognizer is not None and recognizer_class_balance
                                   else None)
        self.num_attributes = num_attributes
        self.attribute_loss_weight = float(attribute_loss_weight)
        self.attribute_loss_reduction = attribute_loss_reduction
        self.recognizer_loss_weight = float(recognizer_loss_weight)
        self.train_attribute_input = train_attribute_input
        self.train_predicted_prob = float(train_predicted_prob)
        self.default_attribute_source = default_attribute_source
        self.predicted_attributes = predicted_attributes
        self.predicted_threshold = float(predicted_threshold)
        self.skipped_checkpoint_keys: list[str] = []

    @classmethod
    def from_config(cls, cfg):
        p = cfg.PAENET
        if p.BASE_ARCHITECTURE == "PAENet":
            raise UserError("PAENET.BASE_ARCHITECTURE cannot be PAENet itself; use e.g. CrossModalBaseline.")
        if p.VARIANT not in VARIANTS:
            raise UserError(f"PAENET.VARIANT is '{p.VARIANT}'; expected one of {VARIANTS}.")
        n = int(cfg.MODEL.NUM_ATTRIBUTES)
        if n <= 0:
            raise _missing_attributes_error(cfg)
        sources = list(cfg.TEST.ATTRIBUTE_SOURCES) + [p.DEFAULT_ATTRIBUTE_SOURCE or "zeros"]
        if "predicted" in sources and not p.RECOGNIZER.ENABLED:
            raise UserError("TEST.ATTRIBUTE_SOURCES asks for 'predicted' but the model has no attribute recognizer: "
                            "set PAENET.RECOGNIZER.ENABLED True (or drop 'predicted').")
        base = META_ARCH_REGISTRY.build(p.BASE_ARCHITECTURE, cfg)
        check_base(base, f"'{p.BASE_ARCHITECTURE}'")
        dim = pae_width(base)
        on = p.PAE.ENABLED  # PAE off = every embedding off: no attribute input anywhere
        if p.VARIANT == "reference":
            pae = ReferencePAE(dim, n, embedding_i=on and p.PAE.EMBEDDING_I, embedding_iii=on and p.PAE.EMBEDDING_III)
        else:
            pae = PaperPAE(dim, n, embedding_i=on and p.PAE.EMBEDDING_I, embedding_ii=on and p.PAE.EMBEDDING_II,
                           embedding_iii=on and p.PAE.EMBEDDING_III, num_heads=p.PAPER.NUM_HEADS,
                           ffn_ratio=p.PAPER.FFN_RATIO, spatial_reduction=p.PAPER.SPATIAL_REDUCTION,
                           gate_reduction=p.PAPER.GATE_REDUCTION)
        if pae.uses_attributes and not list(cfg.TEST.ATTRIBUTE_SOURCES) and not p.DEFAULT_ATTRIBUTE_SOURCE:
            raise UserError("PAENet's PAE takes attributes but TEST.ATTRIBUTE_SOURCES is empty: list the test-time "
                            "sources to evaluate (predicted, zeros; gt = the test images' annotations, label leakage).")
        aal = AttributeAuxiliaryLearning(p.VARIANT, dim, n, enabled=p.AAL.ENABLED, weighting=p.PAPER.AAL_WEIGHTING,
                                         reduction=p.PAPER.AAL_REDUCTION, attribute_dim=p.PAPER.ATTRIBUTE_DIM,
                                         region=p.REGION_BRANCH)
        recognizer = (build_recognizer(p.RECOGNIZER.NAME, dim, n, p.RECOGNIZER.CHANNELS, len(cfg.INPUT.PIXEL_MEAN))
                      if p.RECOGNIZER.ENABLED else None)
        return cls(base=base, pae=pae, aal=aal, num_attributes=n, recognizer=recognizer,
                   attribute_loss_weight=p.AAL.LOSS_WEIGHT, attribute_loss_reduction=p.AAL.LOSS_REDUCTION,
                   recognizer_loss_weight=p.RECOGNIZER.LOSS_WEIGHT, train_attribute_input=p.TRAIN_ATTRIBUTE_INPUT,
                   train_predicted_prob=p.TRAIN_PREDICTED_PROB, default_attribute_source=p.DEFAULT_ATTRIBUTE_SOURCE,
                   predicted_attributes=p.PREDICTED_ATTRIBUTES, predicted_threshold=p.PREDICTED_THRESHOLD,
                   recognizer_class_balance=p.RECOGNIZER.CLASS_BALANCE)

    @property
    def device(self) -> torch.device:
        return self.base.device

    # ------------------------------------------------------------------ what it takes at test time
    @property
    def input_sources(self) -> dict[str, InputSource]:
        """The attribute sources PAE can be fed at test time (``batch["attribute_source"]``)."""
        out = {"gt": InputSource("gt", "the test images' annotations: label leakage", leaks_labels=True,
                                 needs_annotations=True)}
        if self.recognizer is not None:
            out["predicted"] = InputSource("predicted", "the model's own attribute predictions")
        out["zeros"] = InputSource("zeros", "no attribute input")
        return out

    @property
    def default_input_source(self) -> str | None:
        """What tools use when no source is named: the model's own predictions (label-free models);
        a model without the recognizer has no label-free source worth defaulting to."""
        return "predicted" if self.recognizer is not None else None

    # ------------------------------------------------------------------ forward
    def head(self, fmap: torch.Tensor, pooled: torch.Tensor, f: torch.Tensor, attributes: torch.Tensor | None):
        """PAE + AAL on the base's map / pooled / neck features → (f_id, f_bn, AAL logits or None)."""
        gates = self.pae(fmap, f, attributes)
        if self.aal.region is None:  # control without the region branch: the base's own features
            return pooled, f, self.aal.attribute_logits(gates, pooled)
        f_id = self.aal.identity_feature(fmap, gates, self.base.pool)
        return f_id, self.identity_neck(f_id), self.aal.attribute_logits(gates, pooled)

    def _gt_attributes(self, batch: dict, batch_size: int, like: torch.Tensor) -> torch.Tensor:
        a = batch.get("attributes")
        if a is None or a.dim() != 2 or a.shape[1] != self.num_attributes or a.shape[0] != batch_size:
            shape = None if a is None else tuple(a.shape)
            raise ValueError(f"PAENet needs batch['attributes'] of shape B×{self.num_attributes} "
                             f"(MODEL.NUM_ATTRIBUTES); got {shape}. Enable DATASETS.ATTRIBUTES for this dataset.")
        return a.to(device=like.device, dtype=like.dtype)

    def _predicted(self, probs: torch.Tensor) -> torch.Tensor:
        return attributes_from_probs(probs, self.predicted_attributes, self.predicted_threshold)

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        batch = self.base.preprocess(batch)
        if self.training and "targets" not in batch:
            raise UserError(f"PAENet on {type(self.base).__name__} (PAENET.BASE_ARCHITECTURE): the training forward "
                            f"needs the batch labels ('targets') for the base's losses and this batch has none; "
                            f"features come from the model in eval mode (model.eval()), which needs no labels.")
        if self.on_map:
            return self._forward_on_map(batch)
        feats = self.base.extract(batch["images"], batch["modality"])
        fmap, pooled, f = feats["MAP"], feats["POOL"], feats["FC"]
        rec_logits = self.recognizer(batch["images"], pooled) if self.recognizer is not None else None
        if self.training:
            return self._losses(fmap, pooled, f, batch, rec_logits)
        return self._inference(fmap, pooled, f, batch, rec_logits)

    def _forward_on_map(self, batch: dict) -> dict[str, torch.Tensor]:
        """PAENetMapBase: PAE reads the backbone's map and PAENet's neck of its pooled vector; the base's
        own heads run on the map the region branch re-weighted (the raw map without the region
        branch), its own losses (train) or test features (eval) come out, PAENet's terms are added."""
        fmap = self.base.backbone_map(batch["images"], batch["modality"])
        pooled = self.base.pool(fmap)
        f = self.input_neck(pooled)
        rec_logits = self.recognizer(batch["images"], pooled) if self.recognizer is not None else None
        if self.training:
            gt, a = self._training_attributes(batch, f, rec_logits)
        else:
            a, rec_probs = self._test_attributes(batch, f, rec_logits)
        gates = self.pae(fmap, f, a)
        feats = self.base.features_from_map(self.aal.identity_map(fmap, gates) if self.aal.region is not None else fmap)
        attr_logits = self.aal.attribute_logits(gates, pooled)
        if self.training:
            return self._add_attribute_losses(dict(self.base.training_losses(feats, batch)), attr_logits, rec_logits,
                                              gt, batch)
        return self._add_attribute_outputs(dict(self.base.inference(feats)), rec_probs, attr_logits)

    def _training_attributes(self, batch, like, rec_logits) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(the annotations where a term needs them, PAE's training input per TRAIN_ATTRIBUTE_INPUT)."""
        needs_gt = (self.recognizer is not None or (self.aal.heads is not None and self.attribute_loss_weight != 0)
                    or (self.pae.uses_attributes and self.train_attribute_input != "predicted"))
        gt = self._gt_attributes(batch, like.shape[0], like) if needs_gt else None
        a = None
        if self.pae.uses_attributes:
            a = gt
            if self.train_attribute_input != "gt":
                predicted = self._predicted(torch.sigmoid(rec_logits))
                a = predicted if self.train_attribute_input == "predicted" else mix_attributes(
                    gt, predicted, self.train_predicted_prob)
        return gt, a

    def _losses(self, fmap, pooled, f, batch, rec_logits) -> dict[str, torch.Tensor]:
        gt, a = self._training_attributes(batch, f, rec_logits)
        f_id, f_bn, attr_logits = self.head(fmap, pooled, f, a)
        classifier = self.base.classifier
        losses = dict(self.base.losses(f_id, classifier(f_bn) if classifier is not None else None, batch))
        return self._add_attribute_losses(losses, attr_logits, rec_logits, gt, batch)

    def _add_attribute_losses(self, losses, attr_logits, rec_logits, gt, batch) -> dict[str, torch.Tensor]:
        mask = batch.get("attribute_mask")
        if attr_logits is not None and self.attribute_loss_weight != 0:
            losses["loss_attr"] = self.attribute_loss_weight * masked_attribute_bce(
                attr_logits, gt, mask, self.attribute_loss_reduction)
        if rec_logits is not None and self.recognizer_loss_weight != 0:
            weights = None
            if self.recognizer_balance is not None:
                self.recognizer_balance.update(gt, mask)
                weights = self.recognizer_balance.weights()
            losses["loss_attr_recognizer"] = self.recognizer_loss_weight * masked_attribute_bce(
                rec_logits, gt, mask, self.attribute_loss_reduction, weights)
        return losses

    def _test_attributes(self, batch, like, rec_logits) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(PAE's input from the batch's attribute source, the recognizer's probabilities or None)."""
        source = batch.get("attribute_source") or self.default_attribute_source
        if not source:
            if self.pae.uses_attributes:  # never fall back to the test annotations (label leakage)
                raise UserError(f"PAENet's PAE takes a test-time attribute source and none was named: set "
                                f"TEST.ATTRIBUTE_SOURCES (evaluation), a tool's --attribute-source, or "
                                f"PAENET.DEFAULT_ATTRIBUTE_SOURCE to one of {', '.join(self.input_sources)} "
                                f"('gt' feeds the test images' annotations: label leakage).")
            source = "zeros"  # PAE off: no attribute enters, the source changes nothing
        if source not in ATTRIBUTE_SOURCES:
            raise ValueError(f"batch['attribute_source'] is '{source}'; expected one of {ATTRIBUTE_SOURCES}.")
        if source == "predicted" and self.recognizer is None:
            raise UserError("attribute_source 'predicted' needs the attribute recognizer: set PAENET.RECOGNIZER.ENABLED "
                            "True and train the model with it.")
        rec_probs = torch.sigmoid(rec_logits) if rec_logits is not None else None
        a = None
        if self.pae.uses_attributes:
            if source == "gt":
                a = self._gt_attributes(batch, like.shape[0], like)
            elif source == "predicted":
                a = self._predicted(rec_probs)
            else:
                a = like.new_zeros(like.shape[0], self.num_attributes)
        return a, rec_probs

    def _inference(self, fmap, pooled, f, batch, rec_logits) -> dict[str, torch.Tensor]:
        a, rec_probs = self._test_attributes(batch, f, rec_logits)
        f_id, f_bn, attr_logits = self.head(fmap, pooled, f, a)
        return self._add_attribute_outputs({"FC": f_bn, "POOL": f_id}, rec_probs, attr_logits)

    @staticmethod
    def _add_attribute_outputs(out, rec_probs, attr_logits) -> dict[str, torch.Tensor]:
        if rec_probs is not None:
            out["attribute_probs"] = rec_probs
        elif attr_logits is not None:
            out["attribute_probs"] = torch.sigmoid(attr_logits)
        return out

    # -------------------------------------------------------------- checkpoints
    def remap_checkpoint_keys(self, state_dict: dict) -> dict:
        """Called by the checkpointer on every loaded state dict: official PAENet names → ours, dead keys
        dropped; a public file of the base's own code (AGW, DDAG, MPANet, the published HCT PCB: whatever
        the base's ``remap_checkpoint_keys`` maps) initialises the base (see ``_base_checkpoint``); a
        registered foreign format the base does not map gets one line naming the base that loads it."""
        if any(k.startswith("base.") for k in state_dict):
            return state_dict  # our own PAENet checkpoint
        remap = getattr(self.base, "remap_checkpoint_keys", None)
        mapped = remap(state_dict) if callable(remap) else state_dict
        if mapped is not state_dict:  # the base recognised a file of its own public code
            return self._base_checkpoint(mapped)
        fmt = foreign_format(state_dict)  # before the official check: AGW, DDAG and HCT files share its stream names
        if fmt is not None and fmt is not OFFICIAL_FORMAT:
            raise ValueError(f"The checkpoint is {fmt.description}; it cannot initialise PAENet on "
                             f"{type(self.base).__name__}: expected PAENET.BASE_ARCHITECTURE set to the model that "
                             f"loads it ({fmt.expected}).")
        if is_official_state_dict(state_dict):
            if not isinstance(self.pae, ReferencePAE):
                raise UserError("An official PAENet checkpoint can only be loaded into PAENET.VARIANT 'reference'.")
            mapped, skipped = official_to_paenet(state_dict, self.num_attributes)
            self.skipped_checkpoint_keys = skipped
            logger.info("Official PAENet checkpoint: %d keys mapped, %d dead keys skipped (%s)", len(mapped),
                        len(skipped), sorted({k.rsplit(".", 1)[0] for k in skipped}))
            return mapped
        return state_dict

    def _base_checkpoint(self, mapped: dict) -> dict:
        """A public file of the base's code, mapped by the base, initialises ``self.base``: every base key
        must be in it with the model's shape except the base's training-only ones (classifiers, whose
        class count may differ); PAENet's own modules are reported as not in the file."""
        base_name = type(self.base).__name__
        training_only = tuple(getattr(type(self.base), "TRAINING_ONLY_PREFIXES", ()))
        ours = self.base.state_dict()
        missing = [k for k in ours if k not in mapped and not k.startswith(training_only)]
        shapes = [f"{k} is {tuple(mapped[k].shape)} in the file, {tuple(v.shape)} in the model" for k, v in ours.items()
                  if k in mapped and not k.startswith(training_only) and tuple(mapped[k].shape) != tuple(v.shape)]
        if missing or shapes:
            raise ValueError(f"The public checkpoint does not fit PAENet's base {base_name}: "
                             f"missing {missing[:10]} ({len(missing)}), wrong shape {shapes[:10]} ({len(shapes)}).")
        self.skipped_checkpoint_keys = list(getattr(self.base, "skipped_checkpoint_keys", []))
        own = sorted({k.split(".", 1)[0] for k in self.state_dict() if not k.startswith("base.")})
        logger.info("Public %s checkpoint: initialises the base (%d keys); not in the file: PAENet's own %s",
                    base_name, len(mapped), own)
        return {f"base.{k}": v for k, v in mapped.items()}
