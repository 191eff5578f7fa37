"""``LayerFreeze``: applies the ``SOLVER.FREEZE`` schedule at every step and keeps it in the checkpoint.

fast-reid's hook of the same name freezes layers for the first iterations; this one drives a
:class:`~fastreid_ext.solver.freeze.FreezeSchedule` (an epoch window). It is applied before every
step (an evaluation in between puts the whole model back into train mode) and drops the frozen
gradients after backward, before the optimizer step.
"""
from __future__ import annotations

import logging

from torch.nn.parallel import DistributedDataParallel

from ..solver.freeze import FreezeSchedule
from .train_loop import HookBase

__all__ = ["LayerFreeze"]

logger = logging.getLogger(__name__)


class LayerFreeze(HookBase):
    """No-op with an empty schedule; registered anyway, so a resumed run restores a checkpoint's schedule."""

    def __init__(self, model, schedule: FreezeSchedule):
        self._model = model
        self.schedule = schedule
        if schedule.enabled:
            n = len(schedule.parameters(model))  # a prefix matching nothing fails when the trainer is built
            logger.info("Freeze schedule: %s (%d parameter tensors).", schedule.describe(), n)

    def _apply(self) -> None:
        ddp = isinstance(self._model, DistributedDataParallel)
        self.schedule.apply(self._model, self.trainer.epoch, toggle_requires_grad=not ddp)

    def before_train(self) -> None:
        self._apply()

    def before_step(self) -> None:
        self._apply()

    def after_backward(self) -> None:
        self.schedule.drop_grads(self._model)

    def after_train(self) -> None:
        if self.schedule.frozen:  # leave the model as it was for whoever uses it next
            self.schedule.release(self._model)

    def state_dict(self) -> dict:
        return self.schedule.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.schedule.load_state_dict(state)
        if self.schedule.enabled:
            self.schedule.parameters(self._model)
