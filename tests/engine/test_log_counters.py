"""The training log's counters agree: the printer's ``iter: i/I`` counts iterations done, and the timer's
closing line counts the timed ones and the ones run (the issue: ``iter: 3`` then "2 iterations")."""
import logging
import re

import pytest

from fastreid_ext.engine.hooks import IterationTimer, PeriodicWriter
from fastreid_ext.engine.train_loop import TrainerBase
from fastreid_ext.utils.events import CommonMetricPrinter


class _NoOpTrainer(TrainerBase):
    def run_step(self) -> None:
        self.storage.put_scalar("loss_x", 1.0)


@pytest.mark.parametrize("start, max_iter", [(0, 4), (0, 7), (2, 7)])
def test_printer_and_timer_count_alike(caplog, start, max_iter):
    trainer = _NoOpTrainer()
    trainer.iters_per_epoch = 2
    trainer.register_hooks([IterationTimer(warmup_iter=3), PeriodicWriter([CommonMetricPrinter(max_iter, 2)], period=1)])
    with caplog.at_level(logging.INFO):
        trainer.train(start, max_iter)
    text = caplog.text
    printed = [int(i) for i in re.findall(r"iter: (\d+)/%d" % max_iter, text)]
    assert printed == list(range(start + 1, max_iter + 1))  # one line per iteration, the last says I/I
    epochs = [int(e) for e in re.findall(r"epoch: (\d+)/%d" % -(-max_iter // 2), text)]
    assert epochs == [i // 2 + 1 for i in range(start, max_iter)]
    assert f"Starting training at iteration {start + 1}/{max_iter}" in text
    run = max_iter - start
    timed = max(run - 3, 0)
    if timed:
        assert f"Overall training speed: {timed} iterations in" in text
        assert f"the first 3 of the {run} iterations run were not timed" in text
    else:
        assert "Overall training speed" not in text
