"""The graph-loss weight of ``train_ddag.py``: 0 during the first epoch, then, at each new epoch,
``1 / (1 + mean of the other loss terms over the previous epoch)``.

Kept as buffers of the model (so checkpoints and ``--resume`` carry it, and DDP broadcasts it from
rank 0); the epoch is read from the trainer's event storage. Outside a trainer (no storage) the
weight stays where it is.
"""
from __future__ import annotations

import torch
from torch import nn

from fastreid_ext.utils.events import get_event_storage

__all__ = ["AdaptiveGraphWeight"]


class AdaptiveGraphWeight(nn.Module):
    def __init__(self, adaptive: bool = True, fixed_weight: float = 1.0):
        super().__init__()
        self.adaptive = bool(adaptive)
        self.register_buffer("weight", torch.tensor(0.0 if adaptive else float(fixed_weight), dtype=torch.float64))
        self.register_buffer("loss_sum", torch.tensor(0.0, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(0, dtype=torch.long))
        self.register_buffer("epoch", torch.tensor(0, dtype=torch.long))

    @staticmethod
    def _current_epoch() -> int | None:
        try:
            return int(get_event_storage().epoch)
        except RuntimeError:
            return None

    def step(self, other_terms: torch.Tensor) -> float:
        """Called once per training forward with the sum of the other terms; returns this step's weight."""
        if not self.adaptive:
            return float(self.weight)
        epoch = self._current_epoch()
        if epoch is not None and epoch > int(self.epoch):
            if int(self.count) > 0:
                self.weight.fill_(1.0 / (1.0 + float(self.loss_sum) / int(self.count)))
            self.loss_sum.zero_()
            self.count.zero_()
            self.epoch.fill_(epoch)
        self.loss_sum += float(other_terms.detach())
        self.count += 1
        return float(self.weight)
