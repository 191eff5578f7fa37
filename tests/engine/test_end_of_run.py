"""Nothing trained is lost: the loss guard names a checkpoint that holds only finite tensors, and a
failing final evaluation leaves model_final.pth with an error saying how to re-run it."""
import math
import os
import re

import pytest
import torch

from engine_testkit import FakeLoaderTrainer, tiny_cfg
from fastreid_ext.engine import HookBase
from fastreid_ext.utils.env import seed_all_rng


def _all_finite(path):
    sd = torch.load(path, weights_only=True)["model"]
    return all(torch.isfinite(v).all() for v in sd.values() if v.is_floating_point())


def test_diverging_run_never_saves_or_names_a_non_finite_checkpoint(tiny_plugin, tmp_path):
    cfg = tiny_cfg(tmp_path, SOLVER__BASE_LR=1e6, SOLVER__WARMUP_EPOCHS=0, SOLVER__CHECKPOINT_PERIOD=1,
                   TEST__EVAL_PERIOD=0, SOLVER__MAX_EPOCH=20)
    seed_all_rng(0)
    trainer = FakeLoaderTrainer(cfg)
    trainer.resume_or_load(resume=False)
    with pytest.raises(FloatingPointError) as e:
        trainer.train()
    out = cfg.OUTPUT_DIR
    named = re.search(r"[Ll]ast good checkpoint: (\S+?)\.?(?: |$)", str(e.value))
    assert named, str(e.value)
    saved = [f for f in os.listdir(out) if f.endswith(".pth")]
    for f in saved:
        assert _all_finite(os.path.join(out, f)), f
    if named.group(1) != "none":
        assert _all_finite(named.group(1)) and os.path.basename(named.group(1)) in saved
        assert open(os.path.join(out, "last_checkpoint")).read() == os.path.basename(named.group(1))


class _OverflowRunningVar(HookBase):
    """What SGD at BASE_LR 1e6 does to a BatchNorm: running_var overflows to inf while the training
    loss (batch statistics) stays finite for a few more iterations."""

    def after_step(self):
        if self.trainer.iter == 3:
            self.trainer.checkpointer.model.bottleneck.running_var.fill_(float("inf"))


def test_overflowed_running_var_is_never_saved_nor_named_as_good(tiny_plugin, tmp_path):
    cfg = tiny_cfg(tmp_path, TINY__NAN_AT_ITER=7, TEST__EVAL_PERIOD=0)
    seed_all_rng(0)
    trainer = FakeLoaderTrainer(cfg)
    trainer.resume_or_load(resume=False)
    trainer.register_hooks([_OverflowRunningVar()])
    with pytest.raises(FloatingPointError) as e:
        trainer.train()
    out = cfg.OUTPUT_DIR
    good = os.path.join(out, "model_0000002.pth")
    assert "bottleneck.running_var" in str(e.value) and f"Last good checkpoint: {good}" in str(e.value)
    assert sorted(f for f in os.listdir(out) if f.endswith(".pth")) == ["model_0000002.pth"]
    assert _all_finite(good) and open(os.path.join(out, "last_checkpoint")).read() == "model_0000002.pth"


class _FailingFinalEval(FakeLoaderTrainer):
    @classmethod
    def build_evaluators(cls, cfg):
        (name, ev), = super().build_evaluators(cfg)
        real = ev.evaluate

        def evaluate(model, quick=False):
            if not quick:
                raise RuntimeError("FAISS ran out of memory")
            return real(model, quick=quick)

        ev.evaluate = evaluate
        return [(name, ev)]


def test_failing_final_evaluation_keeps_model_final_and_says_how_to_rerun(tiny_plugin, tmp_path):
    cfg = tiny_cfg(tmp_path, SOLVER__MAX_EPOCH=2)
    seed_all_rng(0)
    trainer = _FailingFinalEval(cfg)
    trainer.resume_or_load(resume=False)
    with pytest.raises(RuntimeError, match="out of memory") as e:
        trainer.train()
    final = os.path.join(cfg.OUTPUT_DIR, "model_final.pth")
    assert os.path.isfile(final)
    saved = torch.load(final, weights_only=True)
    assert saved["iteration"] == 5 and saved["trainer"]["iteration"] == 6
    for k, v in trainer.checkpointer.model.state_dict().items():
        assert torch.equal(saved["model"][k], v), k
    note = " ".join(getattr(e.value, "__notes__", []))
    assert f"--eval-only MODEL.WEIGHTS {final}" in note
    assert f"--config-file {os.path.join(cfg.OUTPUT_DIR, 'config.yaml')}" in note


def test_finished_run_model_final_holds_the_final_best_metric(tiny_plugin, tmp_path):
    cfg = tiny_cfg(tmp_path, SOLVER__MAX_EPOCH=2, TEST__EVAL_PERIOD=0)
    seed_all_rng(0)
    trainer = FakeLoaderTrainer(cfg)
    trainer.resume_or_load(resume=False)
    trainer.train()
    best = torch.load(os.path.join(cfg.OUTPUT_DIR, "model_final.pth"), weights_only=True)["trainer"]["hooks"]
    assert math.isfinite(best["BestCheckpointer"]["best_metric"]) and best["BestCheckpointer"]["best_iter"] == 5
