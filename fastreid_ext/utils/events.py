"""EventStorage (scalars per iteration, fvcore HistoryBuffer) and the writers that read it.

Writers: ``CommonMetricPrinter`` (console line: ETA, epoch, iter, losses, lr, time/iter, max mem),
``JSONWriter`` (``metrics.json``, one JSON object per line) and ``TensorboardWriter`` (lazy import).
"""
from __future__ import annotations

import datetime
import json
import logging
import os
import time
from collections import defaultdict
from typing import Any

import torch
from fvcore.common.history_buffer import HistoryBuffer

__all__ = ["EventStorage", "get_event_storage", "EventWriter", "CommonMetricPrinter", "JSONWriter",
           "TensorboardWriter", "tensorboard_tag"]

_STACK: list["EventStorage"] = []


def get_event_storage() -> "EventStorage":
    """The storage of the innermost ``with EventStorage()`` block (the trainer opens one)."""
    if not _STACK:
        raise RuntimeError("get_event_storage() must be called inside a 'with EventStorage(...)' block.")
    return _STACK[-1]


class EventStorage:
    """Scalars (smoothed or not) keyed by name, tagged with the iteration they were put at."""

    def __init__(self, start_iter: int = 0):
        self._history: dict[str, HistoryBuffer] = defaultdict(HistoryBuffer)
        self._smoothing_hints: dict[str, bool] = {}
        self._latest: dict[str, tuple[float, int]] = {}
        self.iter = start_iter
        self.epoch = 0

    def put_scalar(self, name: str, value: Any, smoothing_hint: bool = True) -> None:
        value = float(value.detach().item() if isinstance(value, torch.Tensor) else value)
        self._history[name].update(value, self.iter)
        self._latest[name] = (value, self.iter)
        self._smoothing_hints.setdefault(name, smoothing_hint)

    def put_scalars(self, *, smoothing_hint: bool = True, **kwargs: Any) -> None:
        for k, v in kwargs.items():
            self.put_scalar(k, v, smoothing_hint=smoothing_hint)

    def history(self, name: str) -> HistoryBuffer:
        if name not in self._history:
            raise KeyError(f"No history metric available for {name}!")
        return self._history[name]

    def histories(self) -> dict[str, HistoryBuffer]:
        return self._history

    def latest(self) -> dict[str, tuple[float, int]]:
        return self._latest

    def latest_with_smoothing_hint(self, window_size: int = 20) -> dict[str, tuple[float, int]]:
        out = {}
        for k, (v, it) in self._latest.items():
            out[k] = (self._history[k].median(window_size) if self._smoothing_hints[k] else v, it)
        return out

    def __enter__(self) -> "EventStorage":
        _STACK.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        assert _STACK[-1] is self
        _STACK.pop()


class EventWriter:
    def write(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class JSONWriter(EventWriter):
    """Appends one JSON object per iteration with new scalars to ``json_file`` (``metrics.json``)."""

    def __init__(self, json_file: str, window_size: int = 20):
        self._path = json_file
        self._file = open(json_file, "a")
        self._window_size = window_size
        self._last_write = -1

    def start_at(self, start_iter: int) -> int:
        """A run (re)starting at ``start_iter`` will write those rows again: drop the rows of iterations
        >= start_iter (and a line cut by a kill), so the curves never run backwards. Returns rows dropped."""
        self._file.close()
        with open(self._path) as f:
            lines = f.read().splitlines()
        kept = []
        for line in lines:
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict) and int(row.get("iteration", -1)) < start_iter:
                kept.append(line)
        if len(kept) != len(lines):
            tmp = f"{self._path}.{os.getpid()}.tmp"
            with open(tmp, "w") as f:
                f.write("".join(ln + "\n" for ln in kept))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self._path)
        self._file = open(self._path, "a")
        self._last_write = start_iter - 1
        return len(lines) - len(kept)

    def write(self) -> None:
        storage = get_event_storage()
        by_iter: dict[int, dict[str, float]] = defaultdict(dict)
        for k, (v, it) in storage.latest_with_smoothing_hint(self._window_size).items():
            if it > self._last_write:
                by_iter[it][k] = v
        for it in sorted(by_iter):
            self._file.write(json.dumps({"iteration": it, "epoch": storage.epoch, **by_iter[it]}, sort_keys=True) + "\n")
        if by_iter:
            self._last_write = max(by_iter)
        self._file.flush()
        try:
            os.fsync(self._file.fileno())
        except OSError:
            pass

    def close(self) -> None:
        self._file.close()


def tensorboard_tag(key: str, val_datasets=(), test_datasets=()) -> str:
    """The TensorBoard tag of a storage key, grouped as TensorBoard shows sections (first tag part):
    ``train/<key>`` for the per-iteration scalars (losses, lr, time), ``val/<key>`` and ``test/<key>``
    for evaluation results (``<dataset>/<protocol>/.../<metric>``) of DATASETS.VAL and DATASETS.TESTS;
    any other key (a user hook's) as it is."""
    if "/" not in key:
        return f"train/{key}"
    dataset = key.split("/", 1)[0]
    if dataset in val_datasets:
        return f"val/{key}"
    if dataset in test_datasets:
        return f"test/{key}"
    return key


class TensorboardWriter(EventWriter):
    """Scalars to tensorboard under grouped tags (:func:`tensorboard_tag`; the storage keys that hooks read
    stay as they are). The ``SummaryWriter`` (and ``torch.utils.tensorboard``) is opened on the first
    write: a trainer that is built but never trains, or whose start-of-run check fails, leaves no event
    file and no flush thread behind."""

    def __init__(self, log_dir: str, window_size: int = 20, val_datasets=(), test_datasets=(), hparams=None):
        self._log_dir = log_dir
        self._summary_writer = None
        self._window_size = window_size
        self._last_write = -1
        self._val, self._test = tuple(val_datasets), tuple(test_datasets)
        self._hparams = dict(hparams) if hparams else None

    @property
    def _writer(self):
        if self._summary_writer is None:
            from torch.utils.tensorboard import SummaryWriter  # lazy: tensorboard is heavy

            self._summary_writer = SummaryWriter(self._log_dir)
            if self._hparams:
                self.write_hparams(self._hparams)
        return self._summary_writer

    def write_hparams(self, hparams: dict) -> None:
        """The run's key options in tensorboard's HPARAMS tab, written into this run's own event file
        (``SummaryWriter.add_hparams`` would start another run folder)."""
        from torch.utils.tensorboard.summary import hparams as hparams_summary  # noqa: PLC0415

        clean = {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in hparams.items()}
        for summary in hparams_summary(clean, {}):
            self._writer.file_writer.add_summary(summary)

    def write(self) -> None:
        storage = get_event_storage()
        new_last = self._last_write
        for k, (v, it) in storage.latest_with_smoothing_hint(self._window_size).items():
            if it > self._last_write:
                self._writer.add_scalar(tensorboard_tag(k, self._val, self._test), v, it)
                new_last = max(new_last, it)
        self._last_write = new_last

    def close(self) -> None:
        if self._summary_writer is not None:
            self._summary_writer.close()


class CommonMetricPrinter(EventWriter):
    """The console line: ``eta  epoch e/E  iter i/I  total_loss loss_*  time data_time  lr  max_mem``, with
    1-based counts (``iter: 20/400`` after the 20th iteration)."""

    def __init__(self, max_iter: int, iters_per_epoch: int, window_size: int = 20):
        self.logger = logging.getLogger("fastreid_ext.utils.events")
        self._max_iter = max_iter
        self._iters_per_epoch = iters_per_epoch
        self._window_size = window_size
        self._last: tuple[int, float] | None = None  # (iter, wall time) for an ETA without iteration timer

    def _eta(self, storage: EventStorage) -> str:
        it = storage.iter
        try:
            sec = storage.history("time").median(1000) * (self._max_iter - it - 1)
            return str(datetime.timedelta(seconds=int(sec)))
        except KeyError:
            now = time.perf_counter()
            eta = ""
            if self._last is not None and it > self._last[0]:
                per_iter = (now - self._last[1]) / (it - self._last[0])
                eta = str(datetime.timedelta(seconds=int(per_iter * (self._max_iter - it - 1))))
            self._last = (it, now)
            return eta

    def write(self) -> None:
        storage = get_event_storage()
        it = storage.iter
        if it == self._max_iter:
            return  # the final evaluation/ checkpoint run after the loop; nothing new to print
        hist = storage.histories()

        def med(name: str) -> str:
            return f"{hist[name].median(self._window_size):.4f}" if name in hist else "N/A"

        losses = "  ".join(f"{k}: {h.median(self._window_size):.4g}" for k, h in hist.items() if "loss" in k)
        lr = f"{hist['lr'].latest():.5g}" if "lr" in hist else "N/A"
        mem = ""
        if torch.cuda.is_available():
            mem = f"  max_mem: {torch.cuda.max_memory_allocated() / 1024 / 1024:.0f}M"
        eta = self._eta(storage)
        ipe = max(self._iters_per_epoch, 1)
        # counts, not indices: after the step at index it, it + 1 iterations are done (of max_iter), in
        # epoch it // ipe + 1; IterationTimer's "N iterations" counts the same way
        self.logger.info(
            f"{'eta: ' + eta + '  ' if eta else ''}epoch: {it // ipe + 1}/{-(-self._max_iter // ipe)}  "
            f"iter: {it + 1}/{self._max_iter}  "
            f"{losses}  time: {med('time')}  data_time: {med('data_time')}  lr: {lr}{mem}"
        )
