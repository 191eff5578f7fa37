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

__all__ = ["masked_attribute_bce", "AttributeBalance", "AttributeRecognizer", "ConvAttributeRecognizer", "build_recognizer",
           "attributes_from_probs", "mix_attributes", "LOSS_REDUCTIONS", "TRAIN_ATTRIBUTE_INPUTS", "RECOGNIZERS"]

LOSS_REDUCTIONS = ("mean", "sum")
TRAIN_ATTRIBUTE_INPUTS = ("gt", "predicted", "mix")


def masked_attribute_bce(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None,
                         reduction: str = "mean", weights: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """BCE over the entries where ``mask`` is True (all entries when ``mask`` is None).

    ``weights`` (two length-n tensors) weigh positive and negative entries per attribute (see
    :class:`AttributeBalance`). ``mean`` (the official code: mean over all B×n entries when all are
    known) divides by the number of known entries, 0 if none; ``sum`` adds them up, as the paper's Eq. 9 sums over the persons of
    the batch (λ on the paper's scale). Computed from logits for numerical stability.
    """
    if reduction not in LOSS_REDUCTIONS:
        raise ValueError(f"PAENET.AAL.LOSS_REDUCTION is '{reduction}'; expected one of {LOSS_REDUCTIONS}.")
    if logits.shape != targets.shape:
        raise ValueError(f"attribute logits {tuple(logits.shape)} and targets {tuple(targets.shape)} differ in shape")
    targets = targets.to(logits.dtype)
    loss = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    if weights is not None:  # per attribute: (weight of a positive entry, weight of a negative entry)
        w_pos, w_neg = (w.to(device=logits.device, dtype=logits.dtype) for w in weights)
        loss = loss * (targets * w_pos + (1 - targets) * w_neg)
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


class AttributeBalance(nn.Module):
    """Per-attribute weights that make the recognizer's BCE class-balanced, from the labels it has seen.

    The evaluator's mA averages (TPR + TNR) / 2, and most attributes are rare or common (glasses,
    bags): an unweighted BCE learns to predict the majority value and scores 50 on them. With r the
    positive rate of an attribute among the known labels seen so far, positives weigh 1 / (2r) and
    negatives 1 / (2(1 - r)), so both classes carry half of the loss (r clamped to [0.02, 0.98]; no
    label seen yet: weight 1). Counts are buffers: they are checkpointed, resume exactly and follow
    rank 0 under DDP; they are updated in training mode only, from the targets (never an input).
    """

    def __init__(self, num_attributes: int, clamp: float = 0.02):
        super().__init__()
        self.clamp = float(clamp)
        self.register_buffer("positives", torch.zeros(num_attributes, dtype=torch.float64))
        self.register_buffer("known", torch.zeros(num_attributes, dtype=torch.float64))

    @torch.no_grad()
    def update(self, targets: torch.Tensor, mask: torch.Tensor | None) -> None:
        known = torch.ones_like(targets, dtype=torch.bool) if mask is None else mask.to(torch.bool)
        known = known.to(self.known.device)
        t = targets.detach().to(self.known.device, torch.float64) > 0.5
        self.positives += (t & known).sum(0).to(torch.float64)
        self.known += known.sum(0).to(torch.float64)

    def weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        rate = torch.where(self.known > 0, self.positives / self.known.clamp(min=1), torch.full_like(self.known, 0.5))
        rate = rate.clamp(self.clamp, 1 - self.clamp)
        seen = self.known > 0
        w_pos = torch.where(seen, 0.5 / rate, torch.ones_like(rate))
        w_neg = torch.where(seen, 0.5 / (1 - rate), torch.ones_like(rate))
        return w_pos.float(), w_neg.float()


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
