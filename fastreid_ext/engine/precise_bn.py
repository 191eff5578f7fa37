"""``PreciseBN``: BN running statistics recomputed before each evaluation (``TEST.PRECISE_BN``).

During training the running statistics trail the changing weights; fvcore's ``update_bn_stats``
replaces them by the population statistics of ``num_iter`` training batches with the weights
fixed (fast-reid's hook, detectron2's ``PreciseBN``). Only BN running statistics change: the other
buffers (e.g. BN batch counters, a loss's class balance) and the RNG states are restored, so the
training trajectory is the same with or without it. The hook's state is the number of batches drawn
so far, so a resumed run draws the same batches as an uninterrupted one.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

import torch

from ..utils.env import get_rng_state, import_fvcore_nn, set_rng_state
from .train_loop import HookBase

__all__ = ["PreciseBN"]

logger = logging.getLogger(__name__)


class PreciseBN(HookBase):
    """Runs at the end of iteration ``it`` when ``is_due(it + 1)`` (the evaluation schedule) and after the
    last iteration (before the final evaluation). ``build_loader()`` is called once, at the first use;
    a loader whose batch sampler has no ``set_start_iter`` is read from its start at every update."""

    def __init__(self, model: torch.nn.Module, build_loader: Callable[[], object], num_iter: int,
                 is_due: Callable[[int], bool]):
        if int(num_iter) <= 0:
            raise ValueError(f"TEST.PRECISE_BN.NUM_ITER must be > 0, got {num_iter}.")
        self._model = model
        self._build_loader = build_loader
        self._loader = None
        self.num_iter = int(num_iter)
        self._is_due = is_due
        self.consumed = 0  # batches drawn by earlier updates; the next update starts after them

    def update(self) -> None:
        if self._loader is None:
            self._loader = self._build_loader()
        sampler = getattr(self._loader, "batch_sampler", None)
        if hasattr(sampler, "set_start_iter"):
            sampler.set_start_iter(self.consumed)
        bn = {id(m) for m in import_fvcore_nn().precise_bn.get_bn_modules(self._model)}
        if not bn:
            return
        kept = {name: b.clone() for name, b in self._model.named_buffers()
                if not (id(self._owner(name)) in bn and name.rsplit(".", 1)[-1] in ("running_mean", "running_var"))}
        rng = get_rng_state()
        start = time.perf_counter()
        with torch.no_grad():
            import_fvcore_nn().precise_bn.update_bn_stats(self._model, iter(self._loader), self.num_iter)
        buffers = dict(self._model.named_buffers())
        for name, value in kept.items():
            buffers[name].copy_(value)
        set_rng_state(rng)
        self.consumed += self.num_iter
        logger.info("Precise BN: %d BN layers from %d batches in %.1fs", len(bn), self.num_iter,
                    time.perf_counter() - start)

    def _owner(self, buffer_name: str) -> torch.nn.Module:
        return self._model.get_submodule(buffer_name.rsplit(".", 1)[0]) if "." in buffer_name else self._model

    def after_step(self) -> None:
        next_iter = self.trainer.iter + 1
        if next_iter >= self.trainer.max_iter or self._is_due(next_iter):
            self.update()

    def state_dict(self) -> dict:
        return {"consumed": int(self.consumed)}

    def load_state_dict(self, state: dict) -> None:
        self.consumed = int(state.get("consumed", 0))
