"""Attributes from the image alone: the masked attribute loss, the label-free recognizer, and the
choice of the attribute vector PAE is fed (ground truth, the recognizer's predictions or a mix).

The recognizer sees only the image (the pooled backbone feature, or the image through a small CNN of
its own): no attribute enters its path, so feeding its
output to PAE (source ``predicted``) keeps retrieval label-free. Its predictions are detached before
they reach PAE: PAE cannot turn the recognizer into a side channel for identity, the recognizer
learns only from the attribute loss.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["masked_attribute_bce", "AttributeRecognizer", "ConvAttributeRecognizer", "build_recognizer",
           "attributes_from_probs", "mix_attributes", "LOSS_REDUCTIONS", "TRAIN_ATTRIBUTE_INPUTS", "RECOGNIZERS"]

LOSS_REDUCTIONS = ("mean", "sum")
TRAIN_ATTRIBUTE_INPUTS = ("gt", "predicted", "mix")


def masked_attribute_bce(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None,
                         reduction: str = "mean") -> torch.Tensor:
    """BCE over the entries where ``mask`` is True (all entries when ``mask`` is None).

    ``mean`` (the official code: mean over all B×n entries when all are known) divides by the number
    of known entries, 0 if none; ``sum`` adds them up, as the paper's Eq. 9 sums over the persons of
    the batch (λ on the paper's scale). Computed from logits for numerical stability.
    """
    if reduction not in LOSS_REDUCTIONS:
        raise ValueError(f"PAENET.AAL.LOSS_REDUCTION is '{reduction}'; expected one of {LOSS_REDUCTIONS}.")
    if logits.shape != targets.shape:
        raise ValueError(f"attribute logits {tuple(logits.shape)} and targets {tuple(targets.shape)} differ in shape")
    loss = F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype), reduction="none")
    if mask is None:
        return loss.mean() if reduction == "mean" else loss.sum()
    mask = mask.to(device=logits.device, dtype=torch.bool)
    if mask.shape != logits.shape:
        raise ValueError(f"attribute_mask {tuple(mask.shape)} does not match the logits {tuple(logits.shape)}")
    total = loss.masked_fill(~mask, 0.0).sum()
    if reduction == "sum":
        return total
    count = mask.sum()
    return total / count if int(count) > 0 else logits.sum() * 0.0


class AttributeRecognizer(nn.Module):
    """pooled image feature (B×C) → attribute logits (B×n): BatchNorm1d then one linear layer.

    Shares the backbone with retrieval: its loss shapes the identity features too."""

    def __init__(self, dim: int, num_attributes: int):
        super().__init__()
        self.norm = nn.BatchNorm1d(dim)
        self.classifier = nn.Linear(dim, num_attributes)
        nn.init.normal_(self.classifier.weight, 0.0, 0.001)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, images: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.norm(pooled))


class ConvAttributeRecognizer(nn.Module):
    """normalised images (B×3×H×W) → attribute logits (B×n) through a small CNN of its own.

    Each width in ``channels`` is a stage of two 3×3 conv-BN-ReLU, the first with stride 2; then
    average and max pooling, BatchNorm1d and a linear layer. Separate from the backbone, it learns
    attributes without competing with the identity losses for the shared features, and it reads the
    image at full resolution (thin cues like glasses vanish in a 2×1 final map). The image is its
    only input; any H×W works (global pooling).
    """

    def __init__(self, in_channels: int, channels: list[int], num_attributes: int):
        super().__init__()
        if not channels or any(int(c) <= 0 for c in channels):
            raise ValueError(f"PAENET.RECOGNIZER.CHANNELS is {list(channels)}; expected positive stage widths.")
        layers, prev = [], in_channels
        for width in channels:
            for stride in (2, 1):
                layers += [nn.Conv2d(prev, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
                prev = width
        self.body = nn.Sequential(*layers)
        self.norm = nn.BatchNorm1d(2 * prev)
        self.classifier = nn.Linear(2 * prev, num_attributes)
        for m in self.body.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        nn.init.normal_(self.classifier.weight, 0.0, 0.01)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, images: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        x = self.body(images)
        x = torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)
        return self.classifier(self.norm(x))


RECOGNIZERS = ("linear", "conv")


def build_recognizer(name: str, feat_dim: int, num_attributes: int, channels, in_channels: int = 3) -> nn.Module:
    """``linear``: :class:`AttributeRecognizer` on the base's pooled feature; ``conv``:
    :class:`ConvAttributeRecognizer` on the image (``PAENET.RECOGNIZER.NAME``)."""
    if name == "linear":
        return AttributeRecognizer(feat_dim, num_attributes)
    if name == "conv":
        return ConvAttributeRecognizer(in_channels, [int(c) for c in channels], num_attributes)
    raise ValueError(f"PAENET.RECOGNIZER.NAME is '{name}'; expected one of {RECOGNIZERS}.")


def attributes_from_probs(probs: torch.Tensor, mode: str, threshold: float) -> torch.Tensor:
    """What PAE is fed from predicted probabilities: ``threshold`` (binary, like the annotations) or
    ``probability`` (p itself). Detached."""
    probs = probs.detach()
    return (probs > threshold).to(probs.dtype) if mode == "threshold" else probs


def mix_attributes(gt: torch.Tensor, predicted: torch.Tensor, prob_predicted: float) -> torch.Tensor:
    """Per sample, the predicted vector with probability ``prob_predicted``, else the ground truth."""
    pick = torch.rand(gt.shape[0], 1, device=gt.device) < prob_predicted
    return torch.where(pick, predicted, gt)
