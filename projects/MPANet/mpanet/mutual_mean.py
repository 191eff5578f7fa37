"""Mutual mean learning: a classifier per modality (students) and, for each, a running mean of its
weights (teacher). Each modality's features are classified by its own student and by the *other*
modality's teacher; the KL between the two distributions pulls the modalities' decisions together.

The teachers are buffers (``visible_classifier_.weight``, ``infrared_classifier_.weight``, the public
names): saved in checkpoints, moved with the model, never seen by the optimizer. The update rate is
the public engine's: ``rate * min(decay_epoch / (e + 1), 1)`` with ``e`` its 1-based epoch, i.e.
constant until epoch ``decay_epoch`` (1-based) and then shrinking as 1/e; the epoch is read from the
trainer's event storage (outside a trainer the base rate applies)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fastreid_ext.utils.events import get_event_storage

__all__ = ["MeanClassifier", "MutualMeanLearning"]


class MeanClassifier(nn.Module):
    """A bias-free linear classifier whose weight is a buffer (updated by :meth:`track`, not by gradients)."""

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        self.register_buffer("weight", weight.detach().clone())

    @torch.no_grad()
    def track(self, student: torch.Tensor, rate: float) -> None:
        self.weight.mul_(1 - rate).add_(student.detach(), alpha=rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight)


class MutualMeanLearning(nn.Module):
    """``losses(feat, targets, infrared) -> {"loss_sid", "loss_kl"}`` (unweighted); updates the teachers first,
    in training, as the public ``train_forward`` does (so the teachers start equal to the students)."""

    def __init__(self, dim: int, num_classes: int, update_rate: float = 0.2, decay_epoch: int = 100):
        super().__init__()
        self.visible_classifier = nn.Linear(dim, num_classes, bias=False)
        self.infrared_classifier = nn.Linear(dim, num_classes, bias=False)
        self.visible_classifier_ = MeanClassifier(self.visible_classifier.weight)
        self.infrared_classifier_ = MeanClassifier(self.infrared_classifier.weight)
        self.update_rate, self.decay_epoch = float(update_rate), int(decay_epoch)

    def rate_at(self, epoch: int | None) -> float:
        """The teacher update rate in our 0-based ``epoch`` (its ignite epoch is ``epoch + 1``)."""
        if epoch is None or self.decay_epoch <= 0:
            return self.update_rate
        return self.update_rate * min(self.decay_epoch / (epoch + 2), 1.0)

    @staticmethod
    def _current_epoch() -> int | None:
        try:
            return int(get_event_storage().epoch)
        except RuntimeError:
            return None

    def losses(self, feat: torch.Tensor, targets: torch.Tensor, infrared: torch.Tensor) -> dict[str, torch.Tensor]:
        vis, ir = ~infrared, infrared
        logits_v = self.visible_classifier(feat[vis]).float()
        logits_i = self.infrared_classifier(feat[ir]).float()
        sid = F.cross_entropy(logits_v, targets[vis]) + F.cross_entropy(logits_i, targets[ir])
        rate = self.rate_at(self._current_epoch())
        with torch.no_grad():
            self.infrared_classifier_.track(self.infrared_classifier.weight, rate)
            self.visible_classifier_.track(self.visible_classifier.weight, rate)
            teacher = torch.cat([self.infrared_classifier_(feat[vis]), self.visible_classifier_(feat[ir])]).float()
        student = F.softmax(torch.cat([logits_v, logits_i]), dim=1)
        # KL(student || teacher) per image, as the public KLDivLoss(log teacher, student, batchmean)
        kl = F.kl_div(F.log_softmax(teacher, dim=1), student, reduction="batchmean")
        return {"loss_sid": sid, "loss_kl": kl}
