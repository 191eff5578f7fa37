"""SOLVER.FREEZE in the trainer: the frozen modules are bit-unchanged during the window (across the
evaluations in between), train before and after it, and a run killed in the middle of the frozen
phase and resumed ends tensor by tensor where the uninterrupted run ends, also when the resuming
config no longer names the schedule (the checkpoint's is kept); under DistributedDataParallel (two GLOO processes) the frozen tensors
stay unchanged too."""
import os
import subprocess
import sys

import pytest
import torch
import yaml

from engine_testkit import FakeLoaderTrainer, copy_plugin, tiny_cfg
from fastreid_ext.engine import HookBase
from fastreid_ext.utils.env import seed_all_rng
from fastreid_ext.utils.errors import UserError

FREEZE = dict(SOLVER__FREEZE__PREFIXES=["backbone", "bottleneck"], SOLVER__FREEZE__FROM_EPOCH=1,
              SOLVER__FREEZE__UNTIL_EPOCH=3, SOLVER__OPTIMIZER="SGD", SOLVER__MOMENTUM=0.9,
              SOLVER__WEIGHT_DECAY=5e-4, SOLVER__LR_MULTIPLIERS=[])


class _Snapshots(HookBase):
    def __init__(self):
        self.after = {}

    def after_step(self):
        sd = self.trainer.checkpointer.model.state_dict()
        self.after[self.trainer.iter] = {k: v.clone() for k, v in sd.items()}


class _Crash(HookBase):
    def after_step(self):
        if self.trainer.iter == 7:
            raise KeyboardInterrupt("simulated kill")


def _trainer(cfg, resume=False, extra=()):
    seed_all_rng(cfg.SEED)
    t = FakeLoaderTrainer(cfg)
    t.resume_or_load(resume=resume)
    t.register_hooks(list(extra))
    return t


def _equal(a, b, keys):
    return all(torch.equal(a[k], b[k]) for k in keys)


def test_frozen_during_window_only(tiny_plugin, tmp_path):
    snaps = _Snapshots()
    t = _trainer(tiny_cfg(tmp_path, **FREEZE), extra=[snaps])
    t.train()
    s = snaps.after
    frozen = [k for k in s[0] if k.startswith(("backbone.", "bottleneck."))]
    assert "bottleneck.running_mean" in frozen and "backbone.0.weight" in frozen
    # 3 iterations per epoch: iterations 3-8 are epochs 1-2 (frozen), evaluations run after 5 and 8
    assert not _equal(s[1], s[2], frozen)
    assert all(_equal(s[2], s[i], frozen) for i in range(3, 9))
    assert not _equal(s[8], s[9], frozen) and not _equal(s[9], s[10], frozen)
    assert all(not torch.equal(s[i]["classifier.weight"], s[i + 1]["classifier.weight"]) for i in range(11))
    assert all(p.requires_grad for p in t.checkpointer.model.parameters())


@pytest.mark.parametrize("resume_with_schedule", [True, False])
def test_resume_mid_frozen_phase_equals_uninterrupted(tiny_plugin, tmp_path, resume_with_schedule):
    ref = _trainer(tiny_cfg(tmp_path / "a", **FREEZE))
    ref.train()
    cfg = tiny_cfg(tmp_path / "b", **FREEZE)
    t = _trainer(cfg, extra=[_Crash()])
    with pytest.raises(KeyboardInterrupt):
        t.train()
    ckpt = torch.load(os.path.join(cfg.OUTPUT_DIR, "model_0000005.pth"), weights_only=True)
    assert ckpt["trainer"]["hooks"]["LayerFreeze"] == {"prefixes": ["backbone", "bottleneck"], "from_epoch": 1,
                                                       "until_epoch": 3, "bn_eval": True, "frozen": True}
    del t
    resume_cfg = cfg if resume_with_schedule else tiny_cfg(tmp_path / "b", **{**FREEZE, "SOLVER__FREEZE__PREFIXES": []})
    seed_all_rng(cfg.SEED + 1)
    resumed = FakeLoaderTrainer(resume_cfg)
    resumed.resume_or_load(resume=True)
    assert resumed.start_iter == 6  # epoch 2: inside the frozen window
    resumed.train()
    a, b = ref.checkpointer.model.state_dict(), resumed.checkpointer.model.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_unknown_prefix_fails_when_the_trainer_is_built(tiny_plugin, tmp_path):
    cfg = tiny_cfg(tmp_path, SOLVER__FREEZE__PREFIXES=["pae"])
    with pytest.raises(UserError, match=r"'pae' matches no parameter of TinyReIDNet; its modules include "
                                        r"\['backbone', 'bottleneck', 'classifier'\]"):
        FakeLoaderTrainer(cfg)


@pytest.mark.slow
def test_frozen_under_two_process_ddp(tmp_path):
    """requires_grad stays on under DDP (its reducer expects every gradient); dropping the frozen
    gradients after the all-reduce is what freezes: the end of epoch 0 and the final model agree on them."""
    out = tmp_path / "out"
    cfg = {"OUTPUT_DIR": str(out), "SEED": 5, "IMPORTS": [copy_plugin(tmp_path / "p")],
           "MODEL": {"META_ARCHITECTURE": "TinyReIDNet", "DEVICE": "cpu"},
           "DATASETS": {"NAMES": ["TinyData"], "TESTS": ["TinyData"], "ROOT": str(tmp_path / "data"),
                     "SYNTHETIC": {"PRESET": "default"}},  # the CLI writes TinyData first
           "DATALOADER": {"NUM_WORKERS": 0, "IDS_PER_BATCH": 2, "NUM_INSTANCES": 2, "ITERS_PER_EPOCH": 2},
           "INPUT": {"SIZE_TRAIN": [16, 8], "SIZE_TEST": [16, 8], "PADDING": 0},
           "SOLVER": {"BASE_LR": 0.05, "MAX_EPOCH": 2, "WARMUP_EPOCHS": 0, "STEPS": [5], "CHECKPOINT_PERIOD": 1,
                      "LOG_PERIOD": 1, "WEIGHT_DECAY": 5e-4, "LR_MULTIPLIERS": [],
                      "FREEZE": {"PREFIXES": ["backbone", "bottleneck"], "FROM_EPOCH": 1}},
           "TEST": {"EVAL_PERIOD": 0}}
    yml = tmp_path / "freeze.yml"
    yml.write_text(yaml.safe_dump(cfg))
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR",
                                                            "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    train_net = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "tools",
                             "train_net.py")
    proc = subprocess.run([sys.executable, train_net, "--config-file", str(yml), "--num-gpus", "2"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "World size: 2" in proc.stdout + proc.stderr + (out / "log.txt").read_text()
    epoch0 = torch.load(out / "model_0000001.pth", weights_only=True)["model"]  # end of epoch 0
    final = torch.load(out / "model_final.pth", weights_only=True)["model"]
    frozen = [k for k in final if k.startswith(("backbone.", "bottleneck."))]
    assert "bottleneck.running_var" in frozen
    assert [k for k in frozen if not torch.equal(epoch0[k], final[k])] == []
    assert not torch.equal(epoch0["classifier.weight"], final["classifier.weight"])
