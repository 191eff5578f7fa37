"""End-to-end runs of tools/train_net.py in subprocesses: a researcher's plugin package used only
through IMPORTS, config.yaml replay with --eval-only, kill-and-resume exactness (the 2-process GLOO jobs are
in test_distributed.py)."""
import os
import subprocess
import sys

import pytest
import torch
import yaml

from engine_testkit import cli_env, copy_plugin, tiny_cli_yml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRAIN_NET = os.path.join(REPO, "tools", "train_net.py")
pytestmark = pytest.mark.slow


def _yml(tmp_path, plugin: str | None, out: str) -> str:
    """The tiny plugin's YAML for three epochs, evaluated after each (a new file per call)."""
    return tiny_cli_yml(tmp_path, plugin, out, name=f"cfg_{len(os.listdir(tmp_path))}.yml",
                        DATALOADER={"NUM_WORKERS": 1}, SOLVER={"MAX_EPOCH": 3},
                        TEST={"EVAL_PERIOD": 1, "EVAL_START_EPOCH": 0})


def _run(tmp_path, *args, expect_rc=0, timeout=240):
    p = subprocess.run([sys.executable, TRAIN_NET, *map(str, args)], cwd=tmp_path, env=cli_env(), capture_output=True,
                       text=True, timeout=timeout)
    assert p.returncode == expect_rc, f"rc={p.returncode}\nstdout:\n{p.stdout[-4000:]}\nstderr:\n{p.stderr[-4000:]}"
    return p


def _final_weights(out):
    return torch.load(os.path.join(out, "model_final.pth"), weights_only=True)["model"]


def test_plugin_package_through_imports_and_eval_only_replay(tmp_path):
    plugin = copy_plugin(tmp_path / "researcher")  # tmp_path/researcher/tinyreid, not on sys.path
    out = str(tmp_path / "out")
    # not importable by name: only IMPORTS (a path) brings it in
    p = subprocess.run([sys.executable, "-c", "import tinyreid"], cwd=tmp_path, capture_output=True, text=True)
    assert p.returncode != 0 and "No module named 'tinyreid'" in p.stderr
    no_imports = _run(tmp_path, "--config-file", _yml(tmp_path, None, out), expect_rc=2)  # a user error: one line
    assert "No object named 'TinyData'" in no_imports.stderr and "IMPORTS" in no_imports.stderr
    assert "Traceback" not in no_imports.stderr

    _run(tmp_path, "--config-file", _yml(tmp_path, plugin, out), "TRAIN.HOOKS", '["StepCounter"]')
    assert os.path.isfile(os.path.join(out, "model_final.pth"))
    assert open(os.path.join(out, "step_counter.txt")).read() == "9"
    saved = yaml.safe_load(open(os.path.join(out, "config.yaml")))
    assert saved["IMPORTS"] == [plugin] and saved["MODEL"]["HEADS"]["NUM_CLASSES"] == 4
    log = open(os.path.join(out, "log.txt")).read()
    assert "faiss" in log and "Running with full config" in log and "eta" in log
    assert log.count("Model complexity: ") == 1 and "per 16x8 image" in log  # logged once at the start
    assert os.path.isfile(os.path.join(out, "metrics.json"))

    ev = str(tmp_path / "eval")
    _run(tmp_path, "--config-file", os.path.join(out, "config.yaml"), "--eval-only",
         "MODEL.WEIGHTS", os.path.join(out, "model_final.pth"), "OUTPUT_DIR", ev)
    ev_dir = os.path.join(ev, "inference", "model_final")  # its own folder
    assert os.path.isfile(os.path.join(ev_dir, "results.json"))
    assert "Model complexity: " in open(os.path.join(ev_dir, "log.txt")).read()  # eval-only runs log it too
    refused = _run(tmp_path, "--config-file", os.path.join(out, "config.yaml"), "--eval-only",
                   "MODEL.WEIGHTS", str(tmp_path / "missing.pth"), "OUTPUT_DIR", ev, expect_rc=2)
    assert "EvalOnlyWeightsError" in refused.stderr and "missing.pth" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_kill_and_resume_matches_uninterrupted_run(tmp_path):
    plugin = copy_plugin(tmp_path / "p")
    ref = str(tmp_path / "ref")
    _run(tmp_path, "--config-file", _yml(tmp_path, plugin, ref), "TRAIN.HOOKS", '["StepCounter"]')

    out = str(tmp_path / "killed")
    yml = _yml(tmp_path, plugin, out)
    # checkpoints at iterations 2, 5, 8; the hook ends the process abruptly after iteration 6
    _run(tmp_path, "--config-file", yml, "TRAIN.HOOKS", '["StepCounter","KillAtIter"]', "TINY.KILL_AT_ITER", 6,
         expect_rc=3)
    assert open(os.path.join(out, "last_checkpoint")).read() == "model_0000005.pth"
    assert not os.path.exists(os.path.join(out, "model_final.pth"))
    p = _run(tmp_path, "--config-file", yml, "--resume", "TRAIN.HOOKS", '["StepCounter","KillAtIter"]')
    assert "Resuming after 6 of 9 iterations" in p.stdout
    a, b = _final_weights(ref), _final_weights(out)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert open(os.path.join(out, "step_counter.txt")).read() == "9"
    ref_best = torch.load(os.path.join(ref, "model_final.pth"), weights_only=True)["trainer"]["hooks"]["BestCheckpointer"]
    out_best = torch.load(os.path.join(out, "model_final.pth"), weights_only=True)["trainer"]["hooks"]["BestCheckpointer"]
    assert ref_best == out_best

