"""Generating synthetic data under a lock (issue 21, item 1): two runs asking for one dataset at once end
with one complete copy (the second waits, says so, and reuses it), a dead holder's lock is taken over
with a warning, and tools/make_synthetic.py killed half-way leaves no folder a reader takes for data."""
import importlib.util
import json
import logging
import os
import socket
import subprocess
import sys
import time

import pytest

from fastreid_ext.config import get_cfg
from fastreid_ext.data import prepare_datasets

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_RACER = """
import logging, sys, time
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
from fastreid_ext.config import get_cfg
from fastreid_ext.data import prepare_datasets, synthetic
real = synthetic.generate_sysu
def slow(root, **kw):
    out = real(root, **kw)
    time.sleep(float(sys.argv[2]))  # still 'writing' when the other run starts
    return out
synthetic.generate_sysu = slow
cfg = get_cfg()
cfg.DATASETS.ROOT = sys.argv[1]
cfg.DATASETS.ATTRIBUTES.ENABLED = False
cfg.DATASETS.SYNTHETIC.PRESET = "default"
cfg.DATASETS.SYNTHETIC.NUM_IDS = 6
cfg.DATASETS.SYNTHETIC.IMAGES_PER_CAMERA = 1
print("WRITTEN", prepare_datasets(cfg), flush=True)
"""


def _cfg(root):
    cfg = get_cfg()
    cfg.DATASETS.ROOT = str(root)
    cfg.DATASETS.ATTRIBUTES.ENABLED = False
    cfg.DATASETS.SYNTHETIC.PRESET = "default"
    cfg.DATASETS.SYNTHETIC.NUM_IDS = 6
    cfg.DATASETS.SYNTHETIC.IMAGES_PER_CAMERA = 1
    return cfg


def _tree(folder):
    out = {}
    for d, _, files in os.walk(folder):
        for f in files:
            p = os.path.join(d, f)
            out[os.path.relpath(p, folder)] = open(p, "rb").read()
    return out


def _racer(root, sleep_s):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen([sys.executable, "-c", _RACER, str(root), str(sleep_s)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_two_runs_generating_one_dataset_end_with_one_complete_copy(tmp_path):
    ref = tmp_path / "ref"
    prepare_datasets(_cfg(ref))
    root = tmp_path / "shared"
    first = _racer(root, 4)
    deadline = time.time() + 120
    while not (root / "SYSU-MM01.generating").is_dir():
        assert first.poll() is None and time.time() < deadline, first.communicate()[0]
        time.sleep(0.05)
    second = _racer(root, 0)
    out2, _ = second.communicate(timeout=180)
    out1, _ = first.communicate(timeout=180)
    assert first.returncode == 0, out1
    assert second.returncode == 0, out2
    folder = str(root / "SYSU-MM01")
    assert f"WRITTEN ['{folder}']" in out1
    assert "WRITTEN []" in out2  # the second run generated nothing: it waited and reused
    assert f"Waiting for {folder}" in out2 and "is generating it" in out2
    assert sorted(os.listdir(root)) == ["SYSU-MM01"]  # no temp folder, no lock left
    assert _tree(folder) == _tree(ref / "SYSU-MM01")  # byte for byte the data of an undisturbed run


def test_a_dead_holders_generation_lock_is_taken_over_with_a_warning(tmp_path, caplog):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    folder = tmp_path / "SYSU-MM01"
    (tmp_path / "SYSU-MM01.lock").write_text(json.dumps({"host": socket.gethostname(), "pid": dead.pid}))
    (tmp_path / "SYSU-MM01.generating").mkdir()  # what the killed run was writing
    with caplog.at_level(logging.INFO):
        assert prepare_datasets(_cfg(tmp_path)) == [str(folder)]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"Taking over the generation lock of {folder} from host {socket.gethostname()} pid {dead.pid}" in m
               for m in warned), warned
    assert sorted(os.listdir(tmp_path)) == ["SYSU-MM01"]
    assert json.loads((folder / "SYNTHETIC.json").read_text())["options"]["num_ids"] == 6


def test_make_synthetic_killed_half_way_leaves_no_dataset(tmp_path, repo_root):
    spec = importlib.util.spec_from_file_location("make_synthetic", repo_root / "tools" / "make_synthetic.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    real = mod.generate_regdb

    def dies(root, **kw):
        os.makedirs(os.path.join(root, "Visible", "1"))
        raise KeyboardInterrupt

    argv = ["regdb", "--root", str(tmp_path), "--num-ids", "4", "--images-per-id", "1", "--height", "40", "--width", "20"]
    mod.generate_regdb = dies
    with pytest.raises(KeyboardInterrupt):
        mod.main(argv)
    assert os.listdir(tmp_path) == ["RegDB.generating"]  # not RegDB: nothing a reader takes for a dataset
    mod.generate_regdb = real
    assert mod.main(argv) == 0
    assert sorted(os.listdir(tmp_path)) == ["RegDB"]
    manifest = json.loads((tmp_path / "RegDB" / "SYNTHETIC.json").read_text())
    assert manifest == {"generator": "generate_regdb", "options": {"seed": 0, "num_ids": 4, "height": 40, "width": 20,
                                                                    "images_per_id": 1}}
    assert mod.main([*argv, "--force", "--seed", "3"]) == 0  # replaced once the new data are complete
    assert json.loads((tmp_path / "RegDB" / "SYNTHETIC.json").read_text())["options"]["seed"] == 3
    assert sorted(os.listdir(tmp_path)) == ["RegDB"]
