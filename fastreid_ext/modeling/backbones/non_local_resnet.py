"""Two-stream ResNet with non-local blocks inside the shared stages (the AGW backbone layout)."""
from __future__ import annotations

import torch
from torch import nn
from torchvision.models.resnet import Bottleneck

from ..layers.non_local import NonLocalBlock
from .build import BACKBONE_REGISTRY
from .two_stream_resnet import SPLIT_POINTS, TwoStreamResNet

__all__ = ["NonLocalTwoStreamResNet", "default_non_local_blocks"]


def default_non_local_blocks(stage_depths: list[int]) -> list[int]:
    """AGW's layout: non-local blocks after the last half of the blocks of layer2 and layer3.

    ResNet-50/34 (3, 4, 6, 3 blocks) → [0, 2, 3, 0], the community AGW choice; ResNet-18
    (2, 2, 2, 2) → [0, 1, 1, 0].
    """
    return [0, stage_depths[1] // 2, stage_depths[2] // 2, 0]


@BACKBONE_REGISTRY.register()
class NonLocalTwoStreamResNet(TwoStreamResNet):
    """``TwoStreamResNet`` plus a ``NonLocalBlock`` after each of the last ``num_blocks[i]`` residual
    blocks of stage ``layer{i+1}``; each block's width is the stage's output width, read from the
    stage itself. Non-local blocks must sit in shared stages (one block serves both modalities).
    Keys: ``non_local.layer2.0.theta.weight`` (index 0 = the earliest block of that stage).
    """

    def __init__(self, *, num_blocks: list[int] | tuple[int, ...] = (), inter_channels: int = 1, **kwargs):
        channels_last = kwargs.get("channels_last", True)
        super().__init__(**kwargs)
        stages = {**self.specific["visible"]._modules, **self.shared._modules}
        depths = [len(stages[name]) for name in SPLIT_POINTS]
        counts = list(num_blocks) if len(num_blocks) else default_non_local_blocks(depths)
        if len(counts) != len(SPLIT_POINTS) or any(int(c) != c or c < 0 for c in counts):
            raise ValueError(f"MODEL.BACKBONE.NON_LOCAL.NUM_BLOCKS is {list(num_blocks)}; expected {len(SPLIT_POINTS)} "
                             f"non-negative integers, one per stage {list(SPLIT_POINTS)} (or [] for the AGW layout).")
        if inter_channels <= 0:
            raise ValueError(f"MODEL.BACKBONE.NON_LOCAL.INTER_CHANNELS is {inter_channels}; expected a positive integer.")
        self.non_local = nn.ModuleDict()
        self.non_local_after: dict[str, list[int]] = {}
        for name, depth, count in zip(SPLIT_POINTS, depths, counts):
            if count == 0:
                continue
            if count > depth:
                raise ValueError(f"MODEL.BACKBONE.NON_LOCAL.NUM_BLOCKS asks for {count} non-local blocks in {name}, "
                                 f"which has {depth} blocks in a ResNet-{self.depth}.")
            if name not in self.shared_stages:
                raise ValueError(f"MODEL.BACKBONE.NON_LOCAL.NUM_BLOCKS puts non-local blocks in {name}, which is "
                                 f"modality-specific with MODEL.BACKBONE.SHARED_FROM={self.shared_from}; expected them "
                                 f"in shared stages {list(self.shared_stages)}.")
            width = _out_channels(stages[name][-1])
            self.non_local[name] = nn.ModuleList(NonLocalBlock(width, inter_channels) for _ in range(count))
            self.non_local_after[name] = list(range(depth - count, depth))
        self.num_blocks = [int(c) for c in counts]
        if channels_last:
            self.non_local.to(memory_format=torch.channels_last)

    @classmethod
    def from_config(cls, cfg):
        b = cfg.MODEL.BACKBONE
        return cls(depth=b.DEPTH, last_stride=b.LAST_STRIDE, shared_from=b.SHARED_FROM, pretrain=b.PRETRAIN,
                   pretrain_path=b.PRETRAIN_PATH, channels_last=b.CHANNELS_LAST,
                   num_blocks=list(b.NON_LOCAL.NUM_BLOCKS), inter_channels=b.NON_LOCAL.INTER_CHANNELS)

    def forward_shared(self, x: torch.Tensor) -> torch.Tensor:
        for name, stage in self.shared.named_children():
            if name not in self.non_local:
                x = stage(x)
                continue
            blocks = iter(self.non_local[name])
            after = set(self.non_local_after[name])
            for i, block in enumerate(stage):
                x = block(x)
                if i in after:
                    x = next(blocks)(x)
        return x

    def forward(self, images: torch.Tensor, modality: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return self.forward_shared(self.forward_specific(images, modality))


def _out_channels(block: nn.Module) -> int:
    """Output width of a torchvision residual block: its last BatchNorm's feature count."""
    return (block.bn3 if isinstance(block, Bottleneck) else block.bn2).num_features
