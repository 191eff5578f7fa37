"""PCB stripe head (Sun et al., ECCV 2018) as the HCT code uses it: the map is cut into equal
horizontal stripes, each GeM-pooled and reduced by its own 1×1 conv + BN + ReLU."""
from __future__ import annotations

import torch
from torch import nn

from .gem import GeM

__all__ = ["StripeHead"]


class StripeHead(nn.Module):
    """``forward(fmap)`` → (per-stripe reduced features [B×D] × S, per-stripe pooled vectors [B×C] × S).

    ``reductions[i]`` is ``Sequential(Conv2d(C, D, 1), BatchNorm2d(D), ReLU)`` applied to the pooled
    stripe seen as a 1×1 map (so the BN is a BatchNorm2d over the batch, as in the HCT code).
    """

    def __init__(self, in_channels: int, num_stripes: int, local_dim: int, gem_p: float):
        super().__init__()
        if num_stripes < 1 or local_dim < 1:
            raise ValueError(f"MODEL.PCB.NUM_STRIPES and LOCAL_DIM must be >= 1; got {num_stripes}, {local_dim}.")
        self.num_stripes = int(num_stripes)
        self.local_dim = int(local_dim)
        self.pool = GeM(p=gem_p)
        self.reductions = nn.ModuleList()
        for _ in range(self.num_stripes):
            conv = nn.Conv2d(in_channels, local_dim, 1)
            nn.init.kaiming_normal_(conv.weight, a=0, mode="fan_in")
            self.reductions.append(nn.Sequential(conv, nn.BatchNorm2d(local_dim), nn.ReLU(inplace=True)))

    @property
    def out_dim(self) -> int:
        return self.num_stripes * self.local_dim

    def forward(self, fmap: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        h = fmap.shape[2]
        if h % self.num_stripes:
            raise ValueError(f"MODEL.PCB.NUM_STRIPES {self.num_stripes} does not divide the feature map height {h}; "
                             "choose INPUT.SIZE_TRAIN/SIZE_TEST heights whose map height is a multiple of it.")
        step = h // self.num_stripes
        local, pooled = [], []
        for i, reduce in enumerate(self.reductions):
            v = self.pool(fmap[:, :, i * step:(i + 1) * step, :])
            pooled.append(v)
            local.append(reduce(v[:, :, None, None]).flatten(1))
        return local, pooled
