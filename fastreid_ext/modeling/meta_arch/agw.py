"""AGW baseline (Ye et al., TPAMI 2021) as the community code mangye16/Cross-Modal-Re-ID-baseline computes it.

Two-stream ResNet with only the stem modality-specific and non-local blocks in the shared stages
(``NonLocalTwoStreamResNet``, SHARED_FROM=layer1), GeM (p=3, no clamp), BNNeck, identity loss on
the BNNeck feature and the weighted regularization triplet (WRT) on the pooled feature. Everything
but the WRT term is ``CrossModalBaseline``; losses are chosen by MODEL.LOSSES.NAME like there.
"""
from __future__ import annotations

from typing import Any

import torch

from .agw_checkpoint import agw_to_ours, is_agw_state_dict
from ..losses import weighted_regularized_triplet_loss
from .baseline import CrossModalBaseline
from .build import META_ARCH_REGISTRY

__all__ = ["AGWBaseline"]


@META_ARCH_REGISTRY.register()
class AGWBaseline(CrossModalBaseline):
    """Train: ``{"loss_cls", "loss_wrt", ...}``. Eval: ``{"FC", "POOL"}``. Loads community AGW files."""

    LOSS_OUTPUT_NAMES = {**CrossModalBaseline.LOSS_OUTPUT_NAMES, "WeightedRegularizedTripletLoss": "loss_wrt"}

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.skipped_checkpoint_keys: list[str] = []

    @classmethod
    def init_kwargs(cls, cfg) -> dict[str, Any]:
        kwargs = super().init_kwargs(cfg)
        w = cfg.MODEL.LOSSES.WRT
        kwargs["loss_params"]["WeightedRegularizedTripletLoss"] = {"scale": w.SCALE, "normalize_feature": w.NORM_FEAT}
        return kwargs

    def compute_loss(self, name: str, features: torch.Tensor, logits: torch.Tensor | None, batch: dict) -> torch.Tensor:
        if name == "WeightedRegularizedTripletLoss":
            p = self.loss_params[name]
            return weighted_regularized_triplet_loss(features, batch["targets"], normalize_feature=p["normalize_feature"])
        return super().compute_loss(name, features, logits, batch)

    def remap_checkpoint_keys(self, state_dict: dict) -> dict:
        """Community AGW names → ours (our own checkpoints pass through unchanged)."""
        if not is_agw_state_dict(state_dict):
            return state_dict
        if not hasattr(self.backbone, "non_local"):
            raise ValueError(f"A community AGW checkpoint (non-local keys NL_*) needs MODEL.BACKBONE.NAME: "
                             f"NonLocalTwoStreamResNet; the backbone is {type(self.backbone).__name__}.")
        mapped, self.skipped_checkpoint_keys = agw_to_ours(state_dict, self.backbone.specific_stages,
                                                           self.backbone.shared_stages)
        return mapped
