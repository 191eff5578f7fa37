"""In-process trainer tests on a tiny model with a fake loader: loop/hook order, resume exactness,
best metric across resume, evaluation schedule, non-finite guard, AMP, writers, seeds."""
import json
import math
import os

import pytest
import torch
import yaml

from engine_testkit import FakeLoaderTrainer, tiny_cfg
from fastreid_ext.engine import HookBase, TrainerBase
from fastreid_ext.engine.defaults import default_setup, resolve_dataset_keys
from fastreid_ext.utils.env import seed_all_rng


class _Recorder(HookBase):
    def __init__(self):
        self.calls = []

    def before_train(self):
        self.calls.append("before_train")

    def before_step(self):
        self.calls.append(("before_step", self.trainer.iter, self.trainer.epoch))

    def after_step(self):
        self.calls.append(("after_step", self.trainer.iter))

    def after_train(self):
        self.calls.append(("after_train", self.trainer.iter))


class _Loop(TrainerBase):
    def run_step(self):
        pass


def test_loop_calls_hooks_in_order_with_epochs():
    t = _Loop()
    t.iters_per_epoch = 2
    rec = _Recorder()
    t.register_hooks([rec])
    t.train(1, 4)
    assert rec.calls == ["before_train", ("before_step", 1, 0), ("after_step", 1), ("before_step", 2, 1),
                         ("after_step", 2), ("before_step", 3, 1), ("after_step", 3), ("after_train", 4)]


def _train(cfg, resume=False):
    seed_all_rng(cfg.SEED)
    trainer = FakeLoaderTrainer(cfg)
    trainer.resume_or_load(resume=resume)
    results = trainer.train()
    return trainer, results


class _Crash(HookBase):
    def __init__(self, at):
        self.at = at

    def after_step(self):
        if self.trainer.iter == self.at:
            raise KeyboardInterrupt("simulated kill")


def _weights(trainer):
    return {k: v.clone() for k, v in trainer.checkpointer.model.state_dict().items()}


def test_resume_continues_exactly(tiny_plugin, tmp_path):
    # uninterrupted reference run
    ref, ref_results = _train(tiny_cfg(tmp_path / "a", TRAIN__HOOKS=["StepCounter"]))
    assert ref.iter == ref.max_iter == 12
    # interrupted after iteration 7 (checkpoints at 2, 5, 8, 11: the last good one is iteration 5)
    cfg = tiny_cfg(tmp_path / "b", TRAIN__HOOKS=["StepCounter"])
    seed_all_rng(cfg.SEED)
    t = FakeLoaderTrainer(cfg)
    t.resume_or_load(resume=False)
    t.register_hooks([_Crash(7)])
    with pytest.raises(KeyboardInterrupt):
        t.train()
    assert open(os.path.join(cfg.OUTPUT_DIR, "last_checkpoint")).read() == "model_0000005.pth"
    assert not os.path.exists(os.path.join(cfg.OUTPUT_DIR, "model_final.pth"))
    del t
    seed_all_rng(cfg.SEED + 1)  # resumed state must not depend on the fresh process's seeding
    resumed, results = _train(cfg, resume=True)
    assert resumed.start_iter == 6
    a, b = _weights(ref), _weights(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert [g["lr"] for g in ref.optimizer.param_groups] == [g["lr"] for g in resumed.optimizer.param_groups]
    assert results == ref_results
    best = {type(h).__name__: h for h in resumed._hooks}["BestCheckpointer"]
    best_ref = {type(h).__name__: h for h in ref._hooks}["BestCheckpointer"]
    assert (best.best_metric, best.best_iter) == (best_ref.best_metric, best_ref.best_iter)
    counter = {type(h).__name__: h for h in resumed._hooks}["StepCounter"]
    assert counter.count == 12  # 6 before the kill (restored) + 6 after


def test_best_metric_survives_resume(tiny_plugin, tmp_path):
    cfg = tiny_cfg(tmp_path, SOLVER__MAX_EPOCH=3)
    trainer, _ = _train(cfg)
    best = {type(h).__name__: h for h in trainer._hooks}["BestCheckpointer"]
    assert best.best_metric is not None and os.path.isfile(os.path.join(cfg.OUTPUT_DIR, "model_best.pth"))
    saved = torch.load(os.path.join(cfg.OUTPUT_DIR, "model_final.pth"), weights_only=True)
    assert saved["trainer"]["hooks"]["BestCheckpointer"]["best_metric"] == pytest.approx(best.best_metric)
    fresh = FakeLoaderTrainer(cfg)
    fresh.resume_or_load(resume=True)
    best2 = {type(h).__name__: h for h in fresh._hooks}["BestCheckpointer"]
    assert (best2.best_metric, best2.best_iter) == (best.best_metric, best.best_iter)


def test_eval_schedule_quick_then_full(tiny_plugin, tmp_path):
    cfg = tiny_cfg(tmp_path, SOLVER__MAX_EPOCH=6, TEST__EVAL_PERIOD=2, TEST__EVAL_START_EPOCH=2)
    trainer, results = _train(cfg)
    (name, evaluator), = trainer._evaluators
    # epochs (0-based) 2 and 4 satisfy e >= 2 and e % 2 == 0; the end of training is a full evaluation
    assert evaluator.calls == [True, True, False]
    assert set(results) == {"TinyData/all-single"}
    assert os.path.isfile(os.path.join(cfg.OUTPUT_DIR, "results.json"))


def test_train_returns_none_without_evaluation(tiny_plugin, tmp_path):
    cfg = tiny_cfg(tmp_path, SOLVER__MAX_EPOCH=1, DATASETS__TESTS=[])
    _, results = _train(cfg)
    assert results in (None, {})


def test_non_finite_loss_stops_with_clear_error(tiny_plugin, tmp_path):
    cfg = tiny_cfg(tmp_path, TINY__NAN_AT_ITER=4)
    seed_all_rng(0)
    trainer = FakeLoaderTrainer(cfg)
    trainer.resume_or_load(resume=False)
    with pytest.raises(FloatingPointError) as e:
        trainer.train()
    msg = str(e.value)
    assert "iteration 4" in msg and "loss_cls=nan" in msg and "model_0000002.pth" in msg
    for p in trainer.checkpointer.model.parameters():  # the optimizer never stepped on the NaN
        assert torch.isfinite(p).all()
    out = cfg.OUTPUT_DIR
    assert open(os.path.join(out, "last_checkpoint")).read() == "model_0000002.pth"
    assert not os.path.exists(os.path.join(out, "model_final.pth"))


def test_same_seed_same_losses_and_writers(tiny_plugin, tmp_path):
    def losses(sub, seed):
        cfg = tiny_cfg(tmp_path / sub, SOLVER__MAX_EPOCH=2, SEED=seed)
        _train(cfg)
        lines = [json.loads(x) for x in open(os.path.join(cfg.OUTPUT_DIR, "metrics.json"))]
        return [(d["iteration"], d["loss_cls"], d["lr"]) for d in lines if "loss_cls" in d], lines

    a, lines = losses("a", 3)
    b, _ = losses("b", 3)
    c, _ = losses("c", 4)
    assert len(a) == 6 and a == b
    assert a != c  # the seed matters (init and dropout), so the equality above is meaningful
    assert any("TinyData/all-single/FC/Rank-1" in d for d in lines)
    assert [x[2] for x in a[:3]] == pytest.approx([0.005] * 3)  # warm-up epoch: factor 0.1 of 0.05
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(tmp_path / "a" / "out"))


def test_amp_bf16_on_cpu(tiny_plugin, tmp_path):
    cfg = tiny_cfg(tmp_path, SOLVER__MAX_EPOCH=1, SOLVER__AMP__ENABLED=True, DATASETS__TESTS=[])
    trainer, _ = _train(cfg)
    assert trainer.grad_scaler is None and trainer.amp_dtype == torch.bfloat16
    assert all(math.isfinite(float(p.detach().sum())) for p in trainer.model.parameters())


def test_num_classes_resolved_in_setup_and_config_saved_once(tiny_plugin, tmp_path):
    cfg = tiny_cfg(tmp_path, SOLVER__MAX_EPOCH=1)
    assert resolve_dataset_keys(cfg) == {"MODEL.HEADS.NUM_CLASSES": 4}  # TinyData: 4 training ids
    cfg.freeze()
    default_setup(cfg, None)
    path = os.path.join(cfg.OUTPUT_DIR, "config.yaml")
    saved, mtime = open(path).read(), os.stat(path).st_mtime_ns
    assert yaml.safe_load(saved) == yaml.safe_load(cfg.dump())  # config.yaml is the frozen config
    trainer = FakeLoaderTrainer(cfg)
    assert trainer.cfg is cfg and trainer.model.classifier.out_features == 4
    assert open(path).read() == saved and os.stat(path).st_mtime_ns == mtime  # not rewritten


def test_trainer_never_mutates_or_saves_the_callers_config(tiny_plugin, tmp_path):
    cfg = tiny_cfg(tmp_path, SOLVER__MAX_EPOCH=1)
    cfg.freeze()
    trainer = FakeLoaderTrainer(cfg)  # counts left at 0: taken from the loader into a copy
    assert cfg.MODEL.HEADS.NUM_CLASSES == 0 and cfg.is_frozen()
    assert trainer.cfg.MODEL.HEADS.NUM_CLASSES == 4 and trainer.cfg.is_frozen()
    assert trainer.model.classifier.out_features == 4
    assert not os.path.exists(os.path.join(cfg.OUTPUT_DIR, "config.yaml"))


def test_user_hooks_order_and_unknown_hook(tiny_plugin, tmp_path):
    trainer = FakeLoaderTrainer(tiny_cfg(tmp_path, TRAIN__HOOKS=["StepCounter"]))
    names = [type(h).__name__ for h in trainer._hooks]
    assert names == ["IterationTimer", "LRScheduler", "LayerFreeze", "StepCounter", "EvalHook", "BestCheckpointer",
                     "PeriodicCheckpointer", "NonFiniteLossGuard", "PeriodicWriter"]
    with pytest.raises(KeyError, match="No object named 'NoSuchHook'.*StepCounter"):
        FakeLoaderTrainer(tiny_cfg(tmp_path / "b", TRAIN__HOOKS=["NoSuchHook"]))
