"""Identity cross-entropy (docs/protocols.md#identity-loss), optional label smoothing."""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["cross_entropy_loss"]


def cross_entropy_loss(logits: torch.Tensor, labels: torch.Tensor, modality: torch.Tensor | None = None,
                       epsilon: float = 0.0) -> torch.Tensor:
    """Mean CE over the batch; ``epsilon`` smooths towards the uniform distribution
    ((1-ε)·one-hot + ε/n, as the reference ``CrossEntropyLabelSmooth``). ``modality`` is unused and
    accepted so every loss has the same call shape."""
    return F.cross_entropy(logits, labels.to(logits.device).long(), label_smoothing=float(epsilon))
