"""A 2-process GLOO job killed at a fixed iteration and resumed ends bit-equal to an uninterrupted one
(issue 21, item 3): every rank's random states (the tiny model's dropout draws from each rank's own
stream) and its sampler's state are checkpointed and restored."""
import os
import subprocess
import sys

import pytest
import torch

from engine_testkit import TRAIN_NET, cli_env, copy_plugin, tiny_cli_yml


def _yml(tmp_path, plugin, out):
    """Three epochs evaluated every epoch, and the hook that kills the run at an iteration."""
    return tiny_cli_yml(tmp_path, plugin, out, SOLVER={"MAX_EPOCH": 3},
                        TEST={"EVAL_PERIOD": 1, "EVAL_START_EPOCH": 0}, TRAIN={"HOOKS": ["KillAtIter"]})


def _run(tmp_path, *args, ok=True):
    env = cli_env()
    p = subprocess.run([sys.executable, TRAIN_NET, *map(str, args), "--num-gpus", "2"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    assert (p.returncode == 0) == ok, f"rc={p.returncode}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return p


@pytest.mark.slow
def test_two_process_kill_and_resume_is_bit_equal(tmp_path):
    plugin = copy_plugin(tmp_path / "p")
    ref, out = str(tmp_path / "ref"), str(tmp_path / "killed")
    _run(tmp_path, "--config-file", _yml(tmp_path, plugin, ref))
    final = torch.load(os.path.join(ref, "model_final.pth"), weights_only=True)
    last = final["iteration"]
    kill_at = last - 1  # after a periodic checkpoint, before the end: 2 iterations per epoch on 2 ranks
    assert kill_at >= 2
    yml = _yml(tmp_path, plugin, out)
    _run(tmp_path, "--config-file", yml, "TINY.KILL_AT_ITER", kill_at, ok=False)
    assert not os.path.exists(os.path.join(out, "model_final.pth"))
    resumed_from = open(os.path.join(out, "last_checkpoint")).read()
    ckpt = torch.load(os.path.join(out, resumed_from), weights_only=True)
    assert len(ckpt["trainer"]["ranks"]) == 2  # both ranks' states are in the checkpoint
    r0, r1 = (ckpt["trainer"]["ranks"][r] for r in (0, 1))
    assert not torch.equal(r0["rng"]["torch"], r1["rng"]["torch"])  # two streams, not one copied
    assert r0["sampler"]["rank"] == 0 and r1["sampler"]["rank"] == 1
    p = _run(tmp_path, "--config-file", yml, "--resume")
    assert f"Resuming after {ckpt['iteration'] + 1} of " in p.stdout
    a = final["model"]
    b = torch.load(os.path.join(out, "model_final.pth"), weights_only=True)["model"]
    assert a.keys() == b.keys() and len(a) > 4
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
    assert open(os.path.join(out, "results.json"), "rb").read() == open(os.path.join(ref, "results.json"), "rb").read()
