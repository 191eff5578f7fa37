"""BNNeck: the BatchNorm1d between the pooled (metric) feature and the identity classifier."""
from __future__ import annotations

from torch import nn

__all__ = ["BNNeck", "build_neck"]


class BNNeck(nn.BatchNorm1d):
    """BatchNorm1d with a frozen zero bias and weight ~ N(1, 0.01), as the reference (docs/protocols.md#paenet-forward).

    A subclass (not a wrapper) so the state-dict keys stay ``bottleneck.weight`` etc., as in the
    official checkpoints.
    """

    def __init__(self, num_features: int):
        super().__init__(num_features)
        nn.init.normal_(self.weight, 1.0, 0.01)
        nn.init.zeros_(self.bias)
        self.bias.requires_grad_(False)


def build_neck(cfg, feat_dim: int) -> nn.Module:
    name = cfg.MODEL.HEADS.NECK.lower()
    if name == "bnneck":
        return BNNeck(feat_dim)
    if name == "none":
        return nn.Identity()
    raise ValueError(f"MODEL.HEADS.NECK is '{cfg.MODEL.HEADS.NECK}'; expected 'bnneck' or 'none'.")
