"""SOLVER.FREEZE in the trainer: the frozen modules are bit-unchanged during the window (across the
evaluations in between), train before and after it, and a run killed in the middle of the frozen
phase and resumed ends tensor by tensor where the uninterrupted run ends, also when the resuming
config no longer names the schedule (the checkpoint's is kept)."""
import os

import pytest
import torch

from engine_testkit import FakeLoaderTrainer, tiny_cfg
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
