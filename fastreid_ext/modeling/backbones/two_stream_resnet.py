"""Two-stream ResNet: modality-specific early stages, shared late stages (docs/protocols.md#backbone-split).

Built from a torchvision ResNet whose stages are split at ``SHARED_FROM``; the stage names are kept
(``specific.visible.conv1.weight``, ``shared.layer4.0.conv2.weight``) so torchvision and official
checkpoints map onto it by name.
"""
from __future__ import annotations

import copy
from collections import OrderedDict

import torch
from torch import nn
from torchvision import models
from torchvision.models.resnet import BasicBlock, Bottleneck

from .build import BACKBONE_REGISTRY
from .resnet_weights import load_pretrained

__all__ = ["TwoStreamResNet", "STAGES", "VISIBLE", "INFRARED"]

# torchvision ResNet stages in forward order (avgpool/fc are dropped).
STAGES = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")
SPLIT_POINTS = ("layer1", "layer2", "layer3", "layer4")
VISIBLE, INFRARED = 0, 1
_DEPTHS = (18, 34, 50)


def _set_last_stride(resnet: models.ResNet, stride: int) -> None:
    """Stride of layer4's first block: the 3×3 conv (conv2 in Bottleneck, conv1 in BasicBlock) and the shortcut."""
    block = resnet.layer4[0]
    conv = block.conv2 if isinstance(block, Bottleneck) else block.conv1
    assert isinstance(block, (Bottleneck, BasicBlock)), type(block)
    conv.stride = (stride, stride)
    if block.downsample is not None:
        block.downsample[0].stride = (stride, stride)


@BACKBONE_REGISTRY.register()
class TwoStreamResNet(nn.Module):
    """``forward(images, modality)``: each image through its modality's stem, then the shared stages.

    ``modality`` is an int64 tensor (0 visible, 1 infrared); a batch may hold one modality or mix
    them in any order (the output keeps the input order). With ``channels_last`` the convolutions run
    in NHWC memory format (same function; 1.5x faster ResNet-50 inference on CPU in
    ``bench/paenet_speed.py --extract``), and the output map is NHWC too.
    """

    def __init__(self, depth: int = 50, last_stride: int = 1, shared_from: str = "layer3",
                 pretrain: bool = False, pretrain_path: str = "", channels_last: bool = True):
        super().__init__()
        if depth not in _DEPTHS:
            raise ValueError(f"MODEL.BACKBONE.DEPTH is {depth}; expected one of {_DEPTHS}.")
        if shared_from not in SPLIT_POINTS:
            raise ValueError(f"MODEL.BACKBONE.SHARED_FROM is '{shared_from}'; expected one of {SPLIT_POINTS}.")
        if last_stride not in (1, 2):
            raise ValueError(f"MODEL.BACKBONE.LAST_STRIDE is {last_stride}; expected 1 or 2.")
        self.depth = depth
        self.shared_from = shared_from
        resnet = getattr(models, f"resnet{depth}")(weights=None)
        _set_last_stride(resnet, last_stride)
        self.out_channels = resnet.fc.in_features

        split = STAGES.index(shared_from)
        visible = nn.Sequential(OrderedDict((n, getattr(resnet, n)) for n in STAGES[:split]))
        self.specific = nn.ModuleDict({"visible": visible, "infrared": copy.deepcopy(visible)})
        self.shared = nn.Sequential(OrderedDict((n, getattr(resnet, n)) for n in STAGES[split:]))
        load_pretrained(self, depth=depth, pretrain=pretrain, pretrain_path=pretrain_path)
        self.channels_last = bool(channels_last)
        if self.channels_last:  # load_state_dict copies into these tensors, keeping the format
            self.to(memory_format=torch.channels_last)

    @classmethod
    def from_config(cls, cfg):
        b = cfg.MODEL.BACKBONE
        return cls(depth=b.DEPTH, last_stride=b.LAST_STRIDE, shared_from=b.SHARED_FROM,
                   pretrain=b.PRETRAIN, pretrain_path=b.PRETRAIN_PATH, channels_last=b.CHANNELS_LAST)

    @property
    def specific_stages(self) -> tuple[str, ...]:
        return tuple(self.specific["visible"]._modules)

    @property
    def shared_stages(self) -> tuple[str, ...]:
        return tuple(self.shared._modules)

    def forward_specific(self, images: torch.Tensor, modality: torch.Tensor) -> torch.Tensor:
        """The modality-specific stages; mixed batches are split by index and put back in order (in an
        ONNX export, where the split cannot be traced, both stems run and each row takes its own)."""
        modality = modality.to(images.device).long().view(-1)
        if torch.onnx.is_in_onnx_export():
            # no data-dependent branch can be traced: both stems on every image, each row keeps its own
            is_ir = (modality == INFRARED).view(-1, 1, 1, 1)
            return torch.where(is_ir, self.specific["infrared"](images), self.specific["visible"](images))
        if modality.numel() != images.shape[0]:
            raise ValueError(f"modality has {modality.numel()} entries for a batch of {images.shape[0]} images.")
        is_vis = modality == VISIBLE
        is_ir = modality == INFRARED
        if not bool((is_vis | is_ir).all()):
            bad = sorted(set(modality[~(is_vis | is_ir)].tolist()))
            raise ValueError(f"modality values must be {VISIBLE} (visible) or {INFRARED} (infrared); got {bad}.")
        if bool(is_vis.all()):
            return self.specific["visible"](images)
        if bool(is_ir.all()):
            return self.specific["infrared"](images)
        idx_vis = is_vis.nonzero().squeeze(1)
        idx_ir = is_ir.nonzero().squeeze(1)
        out = torch.cat([self.specific["visible"](images[idx_vis]), self.specific["infrared"](images[idx_ir])])
        order = torch.cat([idx_vis, idx_ir])
        inverse = torch.empty_like(order)
        inverse[order] = torch.arange(order.numel(), device=order.device)
        return out[inverse]

    def forward(self, images: torch.Tensor, modality: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return self.shared(self.forward_specific(images, modality))
