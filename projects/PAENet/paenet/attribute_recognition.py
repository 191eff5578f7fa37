"""Attributes from the image alone: the masked attribute loss, the label-free recognizer, and the
choice of the attribute vector PAE is fed (ground truth, the recognizer's predictions or a mix).

The recognizer sees only the pooled backbone feature: no attribute enters its path, so feeding its
output to PAE (source ``predicted``) keeps retrieval label-free. Its predictions are detached before
they reach PAE: PAE cannot turn the recognizer into a side channel for identity, the recognizer
learns only from the attribute loss.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["masked_attribute_bce", "AttributeRecognizer", "attributes_from_probs", "mix_attributes",
           "LOSS_REDUCTIONS", "TRAIN_ATTRIBUTE_INPUTS"]

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
    """pooled image feature (B×C) → attribute logits (B×n): BatchNorm1d then one linear layer."""

    def __init__(self, dim: int, num_attributes: int):
        super().__init__()
        self.norm = nn.BatchNorm1d(dim)
        self.classifier = nn.Linear(dim, num_attributes)
        nn.init.normal_(self.classifier.weight, 0.0, 0.001)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.norm(pooled))


def attributes_from_probs(probs: torch.Tensor, mode: str, threshold: float) -> torch.Tensor:
    """What PAE is fed from predicted probabilities: ``threshold`` (binary, like the annotations) or
    ``probability`` (p itself). Detached."""
    probs = probs.detach()
    return (probs > threshold).to(probs.dtype) if mode == "threshold" else probs


def mix_attributes(gt: torch.Tensor, predicted: torch.Tensor, prob_predicted: float) -> torch.Tensor:
    """Per sample, the predicted vector with probability ``prob_predicted``, else the ground truth."""
    pick = torch.rand(gt.shape[0], 1, device=gt.device) < prob_predicted
    return torch.where(pick, predicted, gt)
