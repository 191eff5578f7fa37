"""The solver options inside the trainer: a cosine run logs the closed-form lr and resumes exactly after a
kill with precise BN and gradient clipping on, and clipping bounds every step's gradient norm."""
import json
import math
import os

import pytest
import torch

from engine_testkit import FakeLoaderTrainer, tiny_cfg
from fastreid_ext.engine import HookBase
from fastreid_ext.utils.env import seed_all_rng


class _GradNorms(HookBase):
    """Total gradient norm after each optimizer step (the gradients it used are still there)."""

    def __init__(self):
        self.norms = []

    def after_step(self):
        grads = [p.grad.flatten() for p in self.trainer.model.parameters() if p.grad is not None]
        self.norms.append(float(torch.cat(grads).norm()))


class _Crash(HookBase):
    def after_step(self):
        if self.trainer.iter == 7:
            raise KeyboardInterrupt("simulated kill")


def _options(path, **extra):
    return tiny_cfg(path, SOLVER__SCHED="CosineAnnealingLR", SOLVER__ETA_MIN_LR=1e-4, SOLVER__DELAY_EPOCHS=1,
                    SOLVER__CLIP_GRADIENTS__ENABLED=True, SOLVER__CLIP_GRADIENTS__CLIP_VALUE=0.05,
                    TEST__PRECISE_BN__ENABLED=True, TEST__PRECISE_BN__NUM_ITER=2, **extra)


def _trainer(cfg, resume=False, hooks=()):
    seed_all_rng(cfg.SEED)
    t = FakeLoaderTrainer(cfg)
    t.resume_or_load(resume=resume)
    t.register_hooks(list(hooks))
    return t


def test_cosine_clip_precise_bn_resume_exactly(tiny_plugin, tmp_path):
    norms = _GradNorms()
    ref = _trainer(_options(tmp_path / "a"), hooks=[norms])
    ref.train()
    # 4 epochs x 3 iterations: warm-up epoch (0.1 x 0.05), one delay epoch, cosine over the last 6
    lrs = [d["lr"] for d in map(json.loads, open(os.path.join(ref.cfg.OUTPUT_DIR, "metrics.json"))) if "lr" in d]
    expected = [0.005] * 3 + [0.05] * 3 + [1e-4 + (0.05 - 1e-4) * (1 + math.cos(math.pi * t / 6)) / 2 for t in range(6)]
    assert lrs == pytest.approx(expected, rel=1e-9)
    assert len(norms.norms) == 12 and max(norms.norms) <= 0.05 * (1 + 1e-5)
    assert sum(n == pytest.approx(0.05, rel=1e-5) for n in norms.norms) >= 6  # clipped (the raw norms were larger)
    assert type(ref.optimizer).__name__.endswith("WithGradientClip")

    cfg = _options(tmp_path / "b")
    t = _trainer(cfg, hooks=[_Crash()])
    with pytest.raises(KeyboardInterrupt):
        t.train()
    del t
    resumed = _trainer(cfg, resume=True)
    assert resumed.start_iter == 6
    resumed.train()
    a, b = ref.checkpointer.model.state_dict(), resumed.checkpointer.model.state_dict()
    for k in a:  # weights and precise-BN statistics alike
        assert torch.equal(a[k], b[k]), k
    pbn = {type(h).__name__: h for h in resumed._hooks}["PreciseBN"]
    assert pbn.consumed == {type(h).__name__: h for h in ref._hooks}["PreciseBN"].consumed == 3 * 2
