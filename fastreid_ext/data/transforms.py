"""Train/test transforms on torchvision ``transforms.v2`` (docs/protocols.md#transforms), built from ``INPUT.*``.

Input: a uint8 RGB tensor (3, H, W). Train: resize to SIZE_TRAIN → pad (constant 0) → random crop
back to SIZE_TRAIN → horizontal flip → [channel augmentation, visible images only] → float → ImageNet
normalisation → [random erasing]. Test: resize to SIZE_TEST → float → normalisation. All randomness
comes from torch's generator, which the dataset seeds per sample.
"""
from __future__ import annotations

import torch
from torchvision.transforms import v2

__all__ = ["build_transforms", "ChannelAugmentation"]


class ChannelAugmentation(v2.Transform):
    """With probability ``p``: replace all channels by one of R, G, B or by the grayscale image
    (random grayscale / channel exchange), so colour is a less reliable cue across modalities."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = float(p)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        if torch.rand(1).item() >= self.p:
            return img
        choice = int(torch.randint(0, 4, (1,)).item())
        if choice < 3:
            out = img[..., choice : choice + 1, :, :].expand_as(img)
        else:
            out = v2.functional.rgb_to_grayscale(img, num_output_channels=3)
        return out.clone()


def _size(value, key) -> list[int]:
    if len(value) != 2 or min(value) <= 0:
        raise ValueError(f"{key} is {list(value)}, expected [height, width] with positive values.")
    return [int(v) for v in value]


def build_transforms(cfg, is_train: bool, modality: str = "visible") -> v2.Compose:
    """The pipeline for one modality (channel augmentation only applies to visible images)."""
    inp = cfg.INPUT
    normalize = [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(inp.PIXEL_MEAN), list(inp.PIXEL_STD))]
    if not is_train:
        return v2.Compose([v2.Resize(_size(inp.SIZE_TEST, "INPUT.SIZE_TEST"), antialias=True)] + normalize)
    size = _size(inp.SIZE_TRAIN, "INPUT.SIZE_TRAIN")
    t = [v2.Resize(size, antialias=True)]
    if inp.PADDING > 0:
        t += [v2.Pad(int(inp.PADDING), fill=0, padding_mode="constant"), v2.RandomCrop(size)]
    if inp.FLIP_PROB > 0:
        t.append(v2.RandomHorizontalFlip(p=float(inp.FLIP_PROB)))
    if inp.CHANNEL_AUG.ENABLED and modality == "visible":
        t.append(ChannelAugmentation(inp.CHANNEL_AUG.PROB))
    t += normalize
    if inp.REA.ENABLED:
        # reference quirk (docs/protocols.md#transforms): the rectangle holds the mean constants *after* normalisation
        t.append(v2.RandomErasing(p=float(inp.REA.PROB), scale=(0.02, 0.4), ratio=(0.3, 1 / 0.3), value=list(inp.PIXEL_MEAN)))
    return v2.Compose(t)
