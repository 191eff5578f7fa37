"""MPANet's backbone: one ResNet shared by both modalities (no per-modality stem), last stride 1,
with modality alleviation after layer3 and/or layer4. Stage names are torchvision's / the public
``models/resnet.py``'s (``conv1`` … ``layer4``, ``MAM3``, ``MAM4``), so public weights load as they are."""
from __future__ import annotations

import logging

import torch
from torch import nn
from torchvision import models

from fastreid_ext.modeling.backbones.resnet_weights import read_state_dict
from fastreid_ext.utils.errors import UserError

from .modality_alleviation import ModalityAlleviation

__all__ = ["MPANetResNet"]

logger = logging.getLogger(__name__)
_STAGES = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")
_DEPTHS = (18, 34, 50)


class MPANetResNet(nn.Module):
    """``forward(images) -> layer4 map``; ``mam_stages`` 0, 1 (after layer4) or 2 (after layer3 and layer4)."""

    def __init__(self, depth: int = 50, last_stride: int = 1, mam_stages: int = 2, mam_reduction: int = 16):
        super().__init__()
        if depth not in _DEPTHS:
            raise UserError(f"MODEL.BACKBONE.DEPTH is {depth}; MPANet expects one of {_DEPTHS}.")
        if mam_stages not in (0, 1, 2):
            raise UserError(f"MPANET.MAM_STAGES is {mam_stages}; expected 0, 1 or 2.")
        resnet = getattr(models, f"resnet{depth}")(weights=None)
        block = resnet.layer4[0]
        (block.conv2 if hasattr(block, "conv3") else block.conv1).stride = (last_stride, last_stride)
        if block.downsample is not None:
            block.downsample[0].stride = (last_stride, last_stride)
        for name in _STAGES:
            self.add_module(name, getattr(resnet, name))
        self.depth = depth
        self.out_channels = resnet.fc.in_features
        self.mam_stages = int(mam_stages)
        if self.mam_stages > 1:
            self.MAM3 = ModalityAlleviation(self.layer4[0].conv1.in_channels, mam_reduction)
        if self.mam_stages > 0:
            self.MAM4 = ModalityAlleviation(self.out_channels, mam_reduction)

    def load_imagenet(self, pretrain: bool, pretrain_path: str) -> None:
        """PRETRAIN_PATH (torchvision names) first, else torchvision's ImageNet weights when PRETRAIN;
        the MAMs keep their initialisation (as the public model, which loads with strict=False)."""
        if pretrain_path:
            state = read_state_dict(pretrain_path)
        elif pretrain:
            state = models.get_model_weights(f"resnet{self.depth}").IMAGENET1K_V1.get_state_dict(progress=False)
        else:
            return
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
        missing = [k for k in self.state_dict()
                   if k not in state and not k.startswith("MAM") and not k.endswith("num_batches_tracked")]
        if missing:
            raise UserError(f"MODEL.BACKBONE weights lack {len(missing)} ResNet-{self.depth} keys "
                            f"(e.g. {missing[:3]}); expected torchvision names.")
        self.load_state_dict(state, strict=False)
        logger.info("Loaded ImageNet weights into MPANet's ResNet-%d", self.depth)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(images))))
        x = self.layer3(self.layer2(self.layer1(x)))
        if self.mam_stages > 1:
            x = self.MAM3(x)
        x = self.layer4(x)
        return self.MAM4(x) if self.mam_stages > 0 else x
