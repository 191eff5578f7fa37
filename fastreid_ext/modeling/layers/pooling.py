"""The global pooling named by MODEL.HEADS.POOL."""
from __future__ import annotations

import torch
from torch import nn

from .gem import GeM

__all__ = ["GlobalAvgPool", "build_pooling"]


class GlobalAvgPool(nn.Module):
    """Spatial mean, B×C×H×W → B×C."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2).mean(dim=-1)


def build_pooling(cfg) -> nn.Module:
    name = cfg.MODEL.HEADS.POOL.lower()
    if name == "gem":
        return GeM(p=cfg.MODEL.HEADS.GEM_P, learnable=cfg.MODEL.HEADS.GEM_LEARNABLE)
    if name == "avg":
        return GlobalAvgPool()
    raise ValueError(f"MODEL.HEADS.POOL is '{cfg.MODEL.HEADS.POOL}'; expected 'gem' or 'avg'.")
