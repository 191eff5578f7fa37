"""Built-in hooks: timing, LR stepping, checkpoints (periodic and best), evaluation, writers, loss guard.

Periods are given here in iterations; ``DefaultTrainer.build_hooks`` converts the epoch-based config.
"""
from __future__ import annotations

import logging
import math
import os
import re
import time
from typing import Any, Callable

import torch
from fvcore.common.checkpoint import PeriodicCheckpointer as _FvcorePeriodicCheckpointer
from fvcore.common.timer import Timer

from ..utils import comm
from ..utils.events import EventWriter
from .train_loop import HookBase

__all__ = ["IterationTimer", "LRScheduler", "PeriodicCheckpointer", "BestCheckpointer", "EvalHook",
           "PeriodicWriter", "NonFiniteLossGuard"]

logger = logging.getLogger(__name__)


class IterationTimer(HookBase):
    """Puts ``time`` (seconds per iteration, hooks included) into the storage; logs the total at the end.

    The first ``warmup_iter`` iterations of a run are not timed; the closing line counts the iterations
    that were (after_step calls, so it agrees with the printer's ``iter: i/I`` counts)."""

    def __init__(self, warmup_iter: int = 3):
        self._warmup_iter = warmup_iter
        self._step_timer = Timer()
        self._start = 0.0
        self._total_timer = Timer()
        self._timed = 0
        self._done = 0

    def before_train(self) -> None:
        self._start = time.perf_counter()
        self._total_timer.reset()
        self._total_timer.pause()
        self._timed = self._done = 0

    def after_train(self) -> None:
        total = time.perf_counter() - self._start
        hook_time = total - self._total_timer.seconds()
        if self._timed > 0 and self._total_timer.seconds() > 0:
            logger.info("Overall training speed: %d iterations in %.1fs (%.4f s / it; the first %d of the %d "
                        "iterations run were not timed)", self._timed, self._total_timer.seconds(),
                        self._total_timer.seconds() / self._timed, self._done - self._timed, self._done)
        logger.info("Total training time: %.1fs (%.1fs on hooks)", total, hook_time)

    def before_step(self) -> None:
        self._step_timer.reset()
        self._total_timer.resume()

    def after_step(self) -> None:
        self._done += 1
        if self.trainer.iter - self.trainer.start_iter >= self._warmup_iter:
            self.trainer.storage.put_scalar("time", self._step_timer.seconds())
            self._timed += 1
        else:
            self._start = time.perf_counter()
            self._total_timer.reset()
        self._total_timer.pause()


class LRScheduler(HookBase):
    """Steps a per-iteration torch scheduler and records the lr (of the group with factor 1, else the largest)."""

    def __init__(self, optimizer: torch.optim.Optimizer, scheduler):
        self._optimizer = optimizer
        self.scheduler = scheduler

    def _lr(self) -> float:
        groups = self._optimizer.param_groups
        g = next((g for g in groups if g.get("lr_factor", None) == 1.0), None)
        return (g or max(groups, key=lambda g: g["lr"]))["lr"]

    def after_step(self) -> None:
        self.trainer.storage.put_scalar("lr", self._lr(), smoothing_hint=False)
        self.scheduler.step()

    def state_dict(self) -> dict:
        return self.scheduler.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.scheduler.load_state_dict(state)


class PeriodicCheckpointer(_FvcorePeriodicCheckpointer, HookBase):
    """fvcore's PeriodicCheckpointer as a hook: ``model_{iter:07d}.pth`` every ``period`` iterations,
    ``model_final.pth`` after a finished run (after the final evaluation, so it holds the best metric;
    ``DefaultTrainer`` also writes it just before that evaluation, so a failing evaluation loses nothing).

    ``max_to_keep`` counts the periodic files on disk, so files written before a ``--resume`` are
    pruned too. The checkpointer refuses to save a model holding NaN/inf.
    """

    def __init__(self, checkpointer, period: int, max_to_keep: int | None = None, file_prefix: str = "model"):
        super().__init__(checkpointer, period, max_iter=None, max_to_keep=max_to_keep or None,
                         file_prefix=file_prefix)
        self._pattern = re.compile(rf"^{re.escape(file_prefix)}_(\d{{7}})\.pth$")

    def step(self, iteration: int, **kwargs: Any) -> None:
        iteration = int(iteration)
        if (iteration + 1) % self.period:
            return
        self.checkpointer.save(f"{self.file_prefix}_{iteration:07d}", iteration=iteration, **kwargs)
        if self.max_to_keep is not None and self.checkpointer.save_to_disk:
            self._prune()

    def _prune(self) -> None:
        folder = self.checkpointer.save_dir
        found = sorted((int(m.group(1)), name) for name in os.listdir(folder) if (m := self._pattern.match(name)))
        for _, name in found[:-self.max_to_keep]:
            os.remove(os.path.join(folder, name))

    def after_step(self) -> None:
        if self.period > 0:  # every rank: a save gathers each rank's random states (the main process writes)
            self.step(self.trainer.iter)

    def after_train(self) -> None:
        if self.finished:
            self.checkpointer.save(f"{self.file_prefix}_final", iteration=self.trainer.iter - 1)


class BestCheckpointer(HookBase):
    """Saves ``model_best.pth`` when the evaluation metric improves, reading the latest evaluation
    results from the event storage (``EvalHook`` puts them there). The best value is in the hook state,
    so it survives ``--resume``. ``metric=""``: the first mean Rank-1 key whose dataset is one of
    ``datasets`` (any when empty) and whose test-time input source is not in ``excluded_sources``
    (the model's sources that leak labels, see ``modeling.input_sources``)."""

    def __init__(self, checkpointer, metric: str = "", mode: str = "max", file_prefix: str = "model_best",
                 datasets: list[str] | tuple[str, ...] = (), excluded_sources: list[str] | tuple[str, ...] = ()):
        if mode not in ("max", "min"):
            raise ValueError(f"BestCheckpointer mode must be 'max' or 'min', got {mode!r}.")
        self.checkpointer = checkpointer
        self.metric = metric
        self.datasets = tuple(datasets)
        self.excluded_sources = tuple(excluded_sources)
        self.mode = mode
        self.file_prefix = file_prefix
        self.best_metric: float | None = None
        self.best_iter: int | None = None
        self.resolved_metric = metric
        self._seen_iter = -1
        self._warned = False

    def _auto_key(self, keys) -> str | None:
        from ..evaluation.result_keys import ResultKey  # noqa: PLC0415 - the engine imports evaluation lazily

        for text in keys:
            k = ResultKey.try_parse(text)
            if (k is not None and k.metric == "Rank-1" and k.statistic == "mean" and k.source not in self.excluded_sources
                    and (not self.datasets or k.dataset in self.datasets)):
                return text
        return None

    def _maybe_save(self) -> None:
        latest = self.trainer.storage.latest() if self.trainer.storage is not None else {}
        key = self.metric or self._auto_key(latest)
        if key is None or key not in latest:
            evals = sorted(k for k in latest if "/" in k)
            if evals and not self._warned:
                self._warned = True
                wanted = self.metric or (f"a Rank-1 of {list(self.datasets) or 'any dataset'} not computed with the "
                                         f"leaking sources {list(self.excluded_sources)}")
                logger.warning("BestCheckpointer: no %s in the evaluation results %s; set TEST.SELECT_METRIC to one of them. "
                               "Not saving a best checkpoint.", wanted, evals)
            return
        value, it = latest[key]
        results_iter = min(it, self.trainer.max_iter - 1)  # the final evaluation is put after the loop
        if results_iter == self._seen_iter:
            return
        self._seen_iter = results_iter
        self.resolved_metric = key
        if math.isnan(value):
            return
        better = self.best_metric is None or (value > self.best_metric if self.mode == "max" else value < self.best_metric)
        if better:
            logger.info("New best %s = %.4f at iteration %d (previous: %s)", key, value, results_iter, self.best_metric)
            self.best_metric, self.best_iter = value, results_iter
            self.checkpointer.save(self.file_prefix, iteration=results_iter)
        else:
            logger.info("%s = %.4f, best %.4f at iteration %s", key, value, self.best_metric, self.best_iter)

    def after_step(self) -> None:
        self._maybe_save()

    def after_train(self) -> None:
        if self.finished:
            self._maybe_save()

    def state_dict(self) -> dict:
        if self.best_metric is None:
            return {"best_metric": float("nan"), "best_iter": -1}
        return {"best_metric": float(self.best_metric), "best_iter": int(self.best_iter)}

    def load_state_dict(self, state: dict) -> None:
        best = float(state.get("best_metric", float("nan")))
        self.best_metric = None if math.isnan(best) else best
        self.best_iter = None if self.best_metric is None else int(state.get("best_iter", -1))


class EvalHook(HookBase):
    """Quick evaluation at the end of epoch e when ``e >= start_epoch`` and ``e % period == 0``
    (epochs 0-based, as the reference's ``epoch > 9 and epoch % 2 == 0``); full evaluation after a
    finished run. ``eval_function(quick) -> {task: {metric: value}}``."""

    def __init__(self, eval_period_epochs: int, eval_function: Callable[[bool], dict], start_epoch: int = 0):
        self._period = int(eval_period_epochs)
        self._start_epoch = int(start_epoch)
        self._func = eval_function

    def _do_eval(self, quick: bool) -> None:
        results = self._func(quick)
        comm.synchronize()
        if not results:
            return
        if not isinstance(results, dict):
            raise TypeError(f"Evaluation must return a dict {{task: {{metric: value}}}}, got {type(results).__name__}.")
        if self.trainer.storage is not None:
            from ..evaluation.result_keys import flatten_results  # noqa: PLC0415 - lazily, as every evaluation import

            self.trainer.storage.put_scalars(smoothing_hint=False, **flatten_results(results))

    def is_due(self, next_iter: int) -> bool:
        """True when a quick evaluation follows iteration ``next_iter - 1`` (shared with ``PreciseBN``)."""
        ipe = max(self.trainer.iters_per_epoch, 1)
        if self._period <= 0 or next_iter % ipe or next_iter >= self.trainer.max_iter:
            return False
        epoch = next_iter // ipe - 1
        return epoch >= self._start_epoch and epoch % self._period == 0

    def after_step(self) -> None:
        if self.is_due(self.trainer.iter + 1):
            self._do_eval(quick=True)

    def after_train(self) -> None:
        if self.finished:
            self._do_eval(quick=False)
        self._func = None  # drop references to loaders/evaluators


class PeriodicWriter(HookBase):
    """Runs the writers every ``period`` iterations, at the last iteration and at the end."""

    def __init__(self, writers: list[EventWriter], period: int = 20):
        self._writers = writers
        self._period = max(int(period), 1)

    def after_step(self) -> None:
        it = self.trainer.iter
        if (it + 1) % self._period == 0 or it == self.trainer.max_iter - 1:
            for w in self._writers:
                w.write()

    def after_train(self) -> None:
        for w in self._writers:
            w.write()
            w.close()

    def start_at(self, start_iter: int) -> None:
        """Tell the writers that keep records (``metrics.json``) where this run starts; rows it will write
        again are dropped."""
        for w in self._writers:
            fn = getattr(w, "start_at", None)
            if callable(fn):
                dropped = fn(start_iter)
                if dropped:
                    logger.info("Dropped %d rows from iteration %d on of %s: this run writes them again.", dropped,
                                start_iter, getattr(w, "_path", type(w).__name__))


class NonFiniteLossGuard(HookBase):
    """Stops training (before the optimizer step, so the weights and the last checkpoint stay good)
    with an error naming the non-finite loss terms, the iteration and the last checkpoint. That one is
    good: the checkpointer never writes (nor tags as last) a model holding NaN/inf tensors."""

    def __init__(self, checkpointer=None):
        self._checkpointer = checkpointer

    def after_backward(self) -> None:
        losses: dict[str, Any] = self.trainer.loss_dict
        values = {k: float(v.detach().float().sum()) for k, v in losses.items()}
        bad = {k: v for k, v in values.items() if not math.isfinite(v)}
        if bad:
            last = self._checkpointer.get_checkpoint_file() if self._checkpointer and self._checkpointer.has_checkpoint() else ""
            largest = _largest_weight(last) if last else None
            note = ""
            if largest is not None and largest[1] > DIVERGED_WEIGHT:
                note = (f" (its weights are finite but its largest, {largest[0]} = {largest[1]:.3g}, is over "
                        f"{DIVERGED_WEIGHT:g}: it may have diverged already; an earlier checkpoint may be the one to use)")
                logger.warning("Last good checkpoint %s has finite but diverged weights: the largest is %s = %.3g (over "
                               "%g); an earlier checkpoint may be the one to resume from.", last, largest[0],
                               largest[1], DIVERGED_WEIGHT)
            raise FloatingPointError(
                f"Non-finite loss at iteration {self.trainer.iter} (epoch {self.trainer.epoch}): "
                f"{', '.join(f'{k}={v}' for k, v in bad.items())} (all terms: {values}). Training stopped before "
                f"the optimizer step; last good checkpoint: {last or 'none written yet'}{note}. Lower SOLVER.BASE_LR, "
                f"check the data, or set SOLVER.CHECK_FINITE_LOSS False to continue anyway."
            )


# A trained re-id network's parameters stay within a few units (conv/linear weights < 1, BN scales < ~10);
# a finite parameter beyond this means the optimisation had already blown up when the checkpoint was written.
DIVERGED_WEIGHT = 1e3
_STATISTICS = ("running_mean", "running_var", "num_batches_tracked")  # buffers: not learned weights


def _largest_weight(path: str) -> tuple[str, float] | None:
    """(name, value) of the largest absolute learned weight of the checkpoint ``path``, or None."""
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True).get("model", {})
    except Exception:  # noqa: BLE001 - only a note in an error message; never hide the loss error itself
        return None
    best = None
    for k, v in sd.items():
        if isinstance(v, torch.Tensor) and v.is_floating_point() and v.numel() and not k.endswith(_STATISTICS):
            m = float(v.detach().abs().max())
            if best is None or m > best[1]:
                best = (k, m)
    return best
