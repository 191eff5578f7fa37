"""Per-iteration LR schedule: warm-up then multi-step decay (``SOLVER.SCHED: MultiStepLR``) or cosine
annealing (``CosineAnnealingLR``), made of fvcore param schedulers.

The schedule is configured in epochs. With ``WARMUP_STEP='epoch'`` the factor changes once per epoch
and goes linearly from ``WARMUP_FACTOR`` (epoch 0) to 1 (epoch ``WARMUP_EPOCHS-1``): with 0.1 and 10
epochs this is the reference's ``lr * (e+1)/10``. With ``'iter'`` it grows linearly every iteration.
After warm-up the factor is ``GAMMA**k`` where k counts the ``STEPS`` epochs already reached
(MultiStepLR), or, for CosineAnnealingLR (fast-reid's names), 1 for ``DELAY_EPOCHS`` more epochs and then
``m + (1 - m)(1 + cos(pi t / T)) / 2`` with ``m = ETA_MIN_LR / BASE_LR``, t the iterations since the
delay ended and T the iterations left (updated every iteration, where fast-reid steps once per epoch).
``LRMultiplier`` (a torch scheduler, stepped every iteration) multiplies each group's initial lr.
"""
from __future__ import annotations

import torch
from fvcore.common.param_scheduler import (
    CompositeParamScheduler,
    ConstantParamScheduler,
    CosineParamScheduler,
    LinearParamScheduler,
    MultiStepParamScheduler,
    ParamScheduler,
    StepParamScheduler,
)

__all__ = ["LRMultiplier", "build_lr_scheduler", "build_param_scheduler", "SCHEDULES"]

SCHEDULES = ("MultiStepLR", "CosineAnnealingLR")


class LRMultiplier(torch.optim.lr_scheduler.LRScheduler):
    """lr of group i at iteration t = initial lr of group i × ``multiplier(t / max_iter)``.

    Its state is only ``base_lrs`` and ``last_epoch`` (the fvcore scheduler is stateless), so it
    loads from a ``weights_only`` checkpoint.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, multiplier: ParamScheduler, max_iter: int,
                 last_iter: int = -1):
        if not isinstance(multiplier, ParamScheduler):
            raise TypeError(f"multiplier must be an fvcore ParamScheduler, got {type(multiplier).__name__}.")
        self._multiplier = multiplier
        self._max_iter = max_iter
        super().__init__(optimizer, last_epoch=last_iter)

    def state_dict(self) -> dict:
        return {"base_lrs": list(self.base_lrs), "last_epoch": self.last_epoch}

    def get_lr(self) -> list[float]:
        factor = self._multiplier(min(self.last_epoch, self._max_iter - 1) / self._max_iter)
        return [base * factor for base in self.base_lrs]


def _decay(s, max_iter: int, iters_per_epoch: int, warm_epochs: int) -> ParamScheduler:
    """The schedule after warm-up, over the whole run (its ``where`` is the global position)."""
    if s.SCHED == "MultiStepLR":
        steps = sorted(int(e) for e in s.STEPS)
        milestones = [e * iters_per_epoch for e in steps if 0 < e < s.MAX_EPOCH]
        return MultiStepParamScheduler(values=[s.GAMMA**k for k in range(len(milestones) + 1)],
                                       num_updates=max_iter, milestones=milestones)
    if s.ETA_MIN_LR < 0 or s.BASE_LR <= 0:
        raise ValueError(f"CosineAnnealingLR needs SOLVER.BASE_LR > 0 and SOLVER.ETA_MIN_LR >= 0, got "
                         f"{s.BASE_LR} and {s.ETA_MIN_LR}.")
    cosine = CosineParamScheduler(1.0, float(s.ETA_MIN_LR) / float(s.BASE_LR))
    flat = warm_epochs + max(int(s.DELAY_EPOCHS), 0)
    if flat <= 0:
        return cosine
    if flat >= s.MAX_EPOCH:
        return ConstantParamScheduler(1.0)
    frac = flat / s.MAX_EPOCH
    return CompositeParamScheduler([ConstantParamScheduler(1.0), cosine], lengths=[frac, 1.0 - frac],
                                   interval_scaling=["rescaled", "rescaled"])


def build_param_scheduler(cfg, iters_per_epoch: int) -> tuple[ParamScheduler, int]:
    """(multiplier over ``where`` in [0, 1), max_iter)."""
    s = cfg.SOLVER
    if iters_per_epoch <= 0 or s.MAX_EPOCH <= 0:
        raise ValueError(f"Need iters_per_epoch > 0 and SOLVER.MAX_EPOCH > 0, got {iters_per_epoch} and {s.MAX_EPOCH}.")
    if s.WARMUP_STEP not in ("epoch", "iter"):
        raise ValueError(f"SOLVER.WARMUP_STEP is '{s.WARMUP_STEP}'; expected 'epoch' or 'iter'.")
    if s.SCHED not in SCHEDULES:
        raise ValueError(f"SOLVER.SCHED is '{s.SCHED}'; expected one of {SCHEDULES}.")
    max_iter = s.MAX_EPOCH * iters_per_epoch
    warm_epochs = min(int(s.WARMUP_EPOCHS), s.MAX_EPOCH)
    decay = _decay(s, max_iter, iters_per_epoch, max(warm_epochs, 0))
    if warm_epochs <= 0:
        return decay, max_iter
    if s.WARMUP_STEP == "epoch":
        w, n = float(s.WARMUP_FACTOR), warm_epochs
        values = [w + (1.0 - w) * e / (n - 1) if n > 1 else w for e in range(n)]
        warmup = StepParamScheduler(num_updates=n, values=values)
    else:
        warmup = LinearParamScheduler(float(s.WARMUP_FACTOR), 1.0)
    if warm_epochs == s.MAX_EPOCH:
        return warmup, max_iter
    frac = warm_epochs / s.MAX_EPOCH
    # "fixed": the decay scheduler sees the global position, so STEPS are absolute epochs.
    sched = CompositeParamScheduler([warmup, decay], lengths=[frac, 1.0 - frac],
                                    interval_scaling=["rescaled", "fixed"])
    return sched, max_iter


def build_lr_scheduler(cfg, optimizer: torch.optim.Optimizer, iters_per_epoch: int) -> LRMultiplier:
    sched, max_iter = build_param_scheduler(cfg, iters_per_epoch)
    return LRMultiplier(optimizer, sched, max_iter)


