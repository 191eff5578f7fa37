"""MODEL.COMPILE through DefaultTrainer: a compiled run has the losses of the eager run, and a setup
where torch.compile is unavailable trains eagerly with a warning."""
import json
import logging
import os

import torch

from engine_testkit import FakeLoaderTrainer, tiny_cfg
from fastreid_ext.utils.env import seed_all_rng


def _losses(cfg):
    seed_all_rng(cfg.SEED)
    trainer = FakeLoaderTrainer(cfg)
    trainer.train()
    lines = [json.loads(x) for x in open(os.path.join(cfg.OUTPUT_DIR, "metrics.json"))]
    return trainer, [d["loss_cls"] for d in lines if "loss_cls" in d]


def test_compiled_run_has_the_eager_losses(tiny_plugin, tmp_path):
    _, eager = _losses(tiny_cfg(tmp_path / "eager", SOLVER__MAX_EPOCH=1, DATASETS__TESTS=[]))
    trainer, compiled = _losses(tiny_cfg(tmp_path / "compiled", SOLVER__MAX_EPOCH=1, DATASETS__TESTS=[],
                                         MODEL__COMPILE__ENABLED=True, MODEL__COMPILE__BACKEND="eager"))
    assert "forward" in vars(trainer.model)  # really compiled (the DefaultTrainer applied MODEL.COMPILE)
    assert len(eager) == 3 and compiled == eager


def test_unavailable_compile_trains_eagerly(tiny_plugin, tmp_path, monkeypatch, caplog):
    def unavailable(*a, **k):
        raise RuntimeError("Dynamo is not supported on this Python")

    monkeypatch.setattr(torch, "compile", unavailable)
    with caplog.at_level(logging.WARNING, logger="fastreid_ext.engine.compile"):
        trainer, losses = _losses(tiny_cfg(tmp_path, SOLVER__MAX_EPOCH=1, DATASETS__TESTS=[], MODEL__COMPILE__ENABLED=True))
    assert "running eagerly" in caplog.text and "forward" not in vars(trainer.model) and len(losses) == 3
