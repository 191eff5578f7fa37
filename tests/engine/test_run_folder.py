"""Who writes into a run folder (issue 21, items 2 and 4): a second run into an OUTPUT_DIR held by a live
run stops with one line naming the holder, a dead holder's lock is taken over with a warning, and
``--eval-only`` writes into OUTPUT_DIR/inference/<weights>[+options]/, never touching the training record."""
import json
import os
import socket
import subprocess
import sys
import time

import pytest
import yaml

from engine_testkit import TRAIN_NET, cli_env, copy_plugin, tiny_cli_yml
from fastreid_ext.engine.run_folder import RUN_LOCK, eval_folder_name
from fastreid_ext.utils.file_lock import FileLock





def _popen(cwd, *args):
    return subprocess.Popen([sys.executable, TRAIN_NET, *map(str, args)], cwd=cwd, env=cli_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _run(cwd, *args, rc=0):
    p = _popen(cwd, *args)
    out, err = p.communicate(timeout=240)
    assert p.returncode == rc, f"rc={p.returncode}\n{out[-3000:]}\n{err[-3000:]}"
    return out, err


@pytest.mark.slow
def test_second_run_into_a_live_runs_folder_stops_and_a_dead_holder_is_taken_over(tmp_path):
    plugin = copy_plugin(tmp_path / "p")
    out = str(tmp_path / "out")
    pause = str(tmp_path / "go")
    first = _popen(tmp_path, "--config-file", tiny_cli_yml(tmp_path, plugin, out, "cfg.yml"), "TRAIN.HOOKS", '["PauseUntilFile"]',
                   "TINY.PAUSE_FILE", pause)
    try:
        deadline = time.time() + 180
        while not os.path.exists(pause + ".paused"):
            assert first.poll() is None and time.time() < deadline, first.communicate()
            time.sleep(0.1)
        # the first run is alive, mid-training: a second run (another seed) into the same folder
        _, err = _run(tmp_path, "--config-file", tiny_cli_yml(tmp_path, plugin, out, "other.yml", SEED=6), rc=2)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1 and "Traceback" not in err, err
        assert f"OUTPUT_DIR '{out}' is in use by a live run: host {socket.gethostname()} pid {first.pid}" in lines[0]
    finally:
        open(pause, "w").close()
    stdout, stderr = first.communicate(timeout=240)
    assert first.returncode == 0, stderr[-3000:]
    assert yaml.safe_load(open(os.path.join(out, "config.yaml")))["SEED"] == 5  # the first run's record only
    assert not os.path.exists(os.path.join(out, RUN_LOCK))  # released at the end

    # a killed holder: its lock file is left, naming a pid that is gone; the next run takes over and says so
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with open(os.path.join(out, RUN_LOCK), "w") as f:
        json.dump({"host": socket.gethostname(), "pid": dead.pid, "since": "earlier"}, f)
    _run(tmp_path, "--config-file", tiny_cli_yml(tmp_path, plugin, out, "again.yml", SEED=7))
    log = open(os.path.join(out, "log.txt")).read()
    assert f"was held by host {socket.gethostname()} pid {dead.pid}, which is no longer running" in log
    assert yaml.safe_load(open(os.path.join(out, "config.yaml")))["SEED"] == 7


@pytest.mark.slow
def test_eval_only_twice_never_rewrites_the_training_record(tmp_path):
    plugin = copy_plugin(tmp_path / "p")
    out = str(tmp_path / "out")
    _run(tmp_path, "--config-file", tiny_cli_yml(tmp_path, plugin, out, "cfg.yml"))
    record = {f: open(os.path.join(out, f), "rb").read() for f in ("config.yaml", "results.json", "metrics.json")}
    assert "model_selection" in json.loads(record["results.json"])
    weights = os.path.join(out, "model_final.pth")
    # a live holder of the training folder does not stop an evaluation: it writes into its own subfolder
    with FileLock(os.path.join(out, RUN_LOCK)):
        for extra in ([], ["TEST.FLIP.ENABLED", "True"]):
            _run(tmp_path, "--config-file", os.path.join(out, "config.yaml"), "--eval-only",
                 "MODEL.WEIGHTS", weights, *extra)
        _, err = _run(tmp_path, "--config-file", os.path.join(out, "config.yaml"), "--eval-only",
                      "MODEL.WEIGHTS", tmp_path / "missing.pth", rc=2)
        assert "EvalOnlyWeightsError" in err and "missing.pth" in err
    for f, content in record.items():
        assert open(os.path.join(out, f), "rb").read() == content, f"{f} of the training run was rewritten"
    # one folder per evaluation, none for the refused one
    assert sorted(os.listdir(os.path.join(out, "inference"))) == ["model_final", "model_final+flip"]
    for name, flip in (("model_final", False), ("model_final+flip", True)):
        folder = os.path.join(out, "inference", name)
        saved = yaml.safe_load(open(os.path.join(folder, "config.yaml")))
        assert saved["TEST"]["FLIP"]["ENABLED"] is flip and saved["OUTPUT_DIR"] == folder
        results = json.load(open(os.path.join(folder, "results.json")))
        assert results["TinyData/all-single"]["FC/Rank-1"] >= 0
        assert os.path.isfile(os.path.join(folder, "log.txt"))


def test_eval_folder_name_says_what_was_evaluated():
    from fastreid_ext.config import get_cfg

    cfg = get_cfg()
    cfg.MODEL.WEIGHTS = "/runs/a/model_best.pth"
    assert eval_folder_name(cfg) == "model_best"
    cfg.TEST.FLIP.ENABLED = True
    cfg.TEST.RERANK.ENABLED = True
    assert eval_folder_name(cfg) == "model_best+flip+rerank"
    run = yaml.safe_load(cfg.dump())
    assert eval_folder_name(cfg, run) == "model_best+flip+rerank"  # the named switches are not hashed again
    cfg.TEST.RERANK.K1 = 30  # another test-time value than the run's: a short hash keeps the folders apart
    name = eval_folder_name(cfg, run)
    assert name.startswith("model_best+flip+rerank+") and len(name) == len("model_best+flip+rerank+") + 8
