"""Files and resume: umask-respecting checkpoints and config.yaml, temp files of a killed save
removed on the next start, MAX_TO_KEEP across resumes, extending a finished run continues with the
next iteration."""
import os
import stat
import subprocess
import sys

import torch

from engine_testkit import FakeLoaderTrainer, tiny_cfg, train_fake
from fastreid_ext.checkpoint import ReidCheckpointer
from fastreid_ext.engine.defaults import save_config
from fastreid_ext.utils.env import seed_all_rng


def _hook(trainer, name):
    return {type(h).__name__: h for h in trainer._hooks}[name]


def test_extending_a_finished_run_continues_with_the_next_iteration(tiny_plugin, tmp_path):
    ref = train_fake(tiny_cfg(tmp_path / "ref", SOLVER__MAX_EPOCH=3, TRAIN__HOOKS=["StepCounter"], TEST__EVAL_PERIOD=0))
    cfg = tiny_cfg(tmp_path / "ext", SOLVER__MAX_EPOCH=2, TRAIN__HOOKS=["StepCounter"], TEST__EVAL_PERIOD=0)
    first = train_fake(cfg)
    assert first.iter == 6 and open(os.path.join(cfg.OUTPUT_DIR, "last_checkpoint")).read() == "model_final.pth"
    cfg.SOLVER.MAX_EPOCH = 3
    ext = FakeLoaderTrainer(cfg)
    ext.resume_or_load(resume=True)
    assert ext.start_iter == 6  # iterations 0..5 done; the next one is 6, not 7
    seed_all_rng(cfg.SEED + 1)
    ext.train()
    assert _hook(ext, "StepCounter").count == 9 == _hook(ref, "StepCounter").count
    a, b = ref.checkpointer.model.state_dict(), ext.checkpointer.model.state_dict()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_max_to_keep_holds_across_resume(tiny_plugin, tmp_path):
    cfg = tiny_cfg(tmp_path, SOLVER__MAX_TO_KEEP=2, TEST__EVAL_PERIOD=0)
    train_fake(cfg, crash_at=7)  # periodic files at iterations 2 and 5
    out = cfg.OUTPUT_DIR
    assert sorted(f for f in os.listdir(out) if f.startswith("model_0")) == ["model_0000002.pth", "model_0000005.pth"]
    train_fake(cfg, resume=True)  # writes 8 and 11: the two from before the resume must go
    assert sorted(f for f in os.listdir(out) if f.startswith("model_0")) == ["model_0000008.pth", "model_0000011.pth"]


def test_checkpoints_and_config_honour_the_umask(tiny_plugin, tmp_path):
    old = os.umask(0o022)
    try:
        cfg = tiny_cfg(tmp_path)
        path = save_config(cfg)
        ck = ReidCheckpointer(torch.nn.Linear(2, 2), cfg.OUTPUT_DIR)
        ck.save("model_x")
    finally:
        os.umask(old)
    for f in (path, os.path.join(cfg.OUTPUT_DIR, "model_x.pth"), os.path.join(cfg.OUTPUT_DIR, "last_checkpoint")):
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o644, f


_KILLED_SAVE = """
import os, sys, torch
from fastreid_ext.checkpoint import ReidCheckpointer
def dying_save(obj, f, *a, **k):
    f.write(b"half a checkpoint")
    f.flush()
    os._exit(9)  # killed while writing: no cleanup runs
torch.save = dying_save
ReidCheckpointer(torch.nn.Linear(2, 2), sys.argv[1]).save("model_0000005")
"""


def test_temp_files_of_a_killed_save_are_removed_on_the_next_start(tmp_path):
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "-c", _KILLED_SAVE, str(out)], capture_output=True, text=True)
    assert p.returncode == 9, p.stderr
    left = [f for f in os.listdir(out) if f.endswith(".tmp")]
    assert len(left) == 1 and left[0].startswith(".model_0000005.pth.")
    (out / "notes.tmp").write_text("a user's file")  # not ours: stays
    ReidCheckpointer(torch.nn.Linear(2, 2), str(out))
    assert sorted(os.listdir(out)) == ["notes.tmp"]
