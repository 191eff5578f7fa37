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
import logging, os, sys, time
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
from fastreid_ext.config import get_cfg
import dataclasses
from fastreid_ext.data import prepare_datasets
from fastreid_ext.data.synthetic import SYNTHETIC_REGISTRY
gen = SYNTHETIC_REGISTRY.get("SYSU_MM01")
real = gen.generate
def held(root, **kw):
    out = real(root, **kw)
    deadline = time.time() + 120
    while not os.path.exists(sys.argv[2]) and time.time() < deadline:  # still 'writing' until released
        time.sleep(0.05)
    return out
SYNTHETIC_REGISTRY._obj_map["SYSU_MM01"] = dataclasses.replace(gen, generate=held)  # the registered generator, held
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


def _racer(root, release, log):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen([sys.executable, "-c", _RACER, str(root), str(release)], env=env, text=True,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT)


def _wait_for(cond, procs, what):
    deadline = time.time() + 180
    while not cond():
        assert all(p.poll() is None for p in procs) and time.time() < deadline, what
        time.sleep(0.05)


@pytest.mark.slow
def test_two_runs_generating_one_dataset_end_with_one_complete_copy(tmp_path):
    ref = tmp_path / "ref"
    prepare_datasets(_cfg(ref))
    root, release = tmp_path / "common_root", tmp_path / "release"
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    first = _racer(root, release, logs[0])
    second = None
    try:
        _wait_for(lambda: (root / "SYSU-MM01.generating").is_dir(), [first], "the first run never started writing")
        second = _racer(root, tmp_path / "never", logs[1])  # it would hold too, were it the one generating
        _wait_for(lambda: "Waiting for" in logs[1].read_text(), [first, second], "the second run never waited")
    finally:
        release.touch()  # the first run completes its folder now, while the second waits
    assert first.wait(timeout=180) == 0, logs[0].read_text()
    assert second.wait(timeout=180) == 0, logs[1].read_text()
    out1, out2 = logs[0].read_text(), logs[1].read_text()
    folder = str(root / "SYSU-MM01")
    assert f"WRITTEN ['{folder}']" in out1
    assert "WRITTEN []" in out2  # the second run generated nothing: it waited and reused
    assert f"Waiting for {folder}: host" in out2 and f"pid {first.pid} is generating it" in out2
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
    import dataclasses

    from fastreid_ext.data.synthetic import SYNTHETIC_REGISTRY

    gen = SYNTHETIC_REGISTRY.get("RegDB")

    def dies(root, **kw):
        os.makedirs(os.path.join(root, "Visible", "1"))
        raise KeyboardInterrupt

    argv = ["regdb", "--root", str(tmp_path), "--num-ids", "4", "--images-per-id", "1", "--height", "40", "--width", "20"]
    SYNTHETIC_REGISTRY._obj_map["RegDB"] = dataclasses.replace(gen, generate=dies)
    try:
        with pytest.raises(KeyboardInterrupt):
            mod.main(argv)
    finally:
        SYNTHETIC_REGISTRY._obj_map["RegDB"] = gen
    assert os.listdir(tmp_path) == ["RegDB.generating"]  # not RegDB: nothing a reader takes for a dataset
    assert mod.main(argv) == 0
    assert sorted(os.listdir(tmp_path)) == ["RegDB"]
    manifest = json.loads((tmp_path / "RegDB" / "SYNTHETIC.json").read_text())
    assert manifest == {"generator": "generate_regdb", "options": {"seed": 0, "num_ids": 4, "height": 40, "width": 20,
                                                                    "images_per_id": 1}}
    assert mod.main([*argv, "--force", "--seed", "3"]) == 0  # replaced once the new data are complete
    assert json.loads((tmp_path / "RegDB" / "SYNTHETIC.json").read_text())["options"]["seed"] == 3
    assert sorted(os.listdir(tmp_path)) == ["RegDB"]


def test_file_lock_is_exclusive_names_its_holder_and_leaves_nothing(tmp_path):
    from fastreid_ext.utils.file_lock import FileLock

    path = str(tmp_path / "x.lock")
    with FileLock(path):
        holder = json.loads(open(path).read())
        assert holder["host"] == socket.gethostname() and holder["pid"] == os.getpid()
        with pytest.raises(BlockingIOError, match=f"held by host {socket.gethostname()} pid {os.getpid()}"):
            FileLock(path).acquire(wait=False)  # another open file: excluded even within one process
        with pytest.raises(BlockingIOError):
            FileLock(path, poll_s=0.01).acquire(wait=True, timeout=0.1)
    assert not os.path.exists(path)
    second = FileLock(path).acquire(wait=False)
    assert not second.previous  # released cleanly: nothing to take over
    second.release()
