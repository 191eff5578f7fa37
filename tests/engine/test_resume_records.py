"""Records stay consistent across resumes (issue 21, item 7): resuming a finished run keeps its stored
iteration, metrics.json never runs backwards after a resume, and the data-preparation lines reach log.txt."""
import json
import os
import subprocess
import sys

import torch

from engine_testkit import tiny_cfg, train_fake

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _stored_iteration(out):
    return torch.load(os.path.join(out, "model_final.pth"), weights_only=True)["iteration"]


def test_resuming_a_finished_run_keeps_its_iteration(tiny_plugin, tmp_path, caplog):
    cfg = tiny_cfg(tmp_path, SOLVER__MAX_EPOCH=2, TEST__EVAL_PERIOD=0)
    train_fake(cfg)
    assert _stored_iteration(cfg.OUTPUT_DIR) == 5
    for _ in range(2):
        with caplog.at_level("INFO"):
            t = train_fake(cfg, resume=True)
        assert t.start_iter == 6 and t.iter == 6
        assert _stored_iteration(cfg.OUTPUT_DIR) == 5  # not 6, then 7
    assert "Starting training from iteration 7" not in caplog.text
    assert "Nothing to train: the run already finished its 6 iterations" in caplog.text


def test_metrics_json_never_runs_backwards_after_a_resume(tiny_plugin, tmp_path):
    cfg = tiny_cfg(tmp_path, TEST__EVAL_PERIOD=0)
    train_fake(cfg, crash_at=7)  # checkpoint after iteration 5; rows 6 and 7 are written, then the run dies
    path = os.path.join(cfg.OUTPUT_DIR, "metrics.json")
    with open(path, "a") as f:
        f.write('{"iteration": 8, "total_lo')  # a line cut by the kill
    train_fake(cfg, resume=True)  # resumes at 6: its rows 6.. replace the killed run's
    rows = [json.loads(line) for line in open(path)]
    iters = [r["iteration"] for r in rows]
    assert iters == sorted(iters) and len(iters) == len(set(iters)), iters
    assert iters[0] == 0 and set(range(12)) <= set(iters)
    ref = tiny_cfg(tmp_path / "ref", TEST__EVAL_PERIOD=0)
    train_fake(ref)
    ref_rows = [json.loads(line) for line in open(os.path.join(ref.OUTPUT_DIR, "metrics.json"))]
    assert iters == [r["iteration"] for r in ref_rows]  # the rows of an uninterrupted run, once each


_PREPARE = """
import sys
from fastreid_ext.engine.cli import default_argument_parser, parse_args, setup
setup(parse_args(default_argument_parser(), sys.argv[1:]))
"""


def test_data_preparation_lines_reach_log_txt(tmp_path):
    out, root = tmp_path / "out", tmp_path / "data"
    (root / "SYSU-MM01.generating").mkdir(parents=True)  # left by a killed generation
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")]))
    p = subprocess.run([sys.executable, "-c", _PREPARE, "--config-file", os.path.join(REPO, "configs/Baseline/sysu.yml"),
                        "OUTPUT_DIR", str(out), "DATASETS.ROOT", str(root), "DATASETS.ATTRIBUTES.ENABLED", "False",
                        "DATASETS.SYNTHETIC.PRESET", "default", "DATASETS.SYNTHETIC.NUM_IDS", "6",
                        "DATASETS.SYNTHETIC.IMAGES_PER_CAMERA", "1", "MODEL.DEVICE", "cpu"],
                       env=env, capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stderr[-3000:]
    log = (out / "log.txt").read_text()
    assert f"SYSU_MM01 missing at {root / 'SYSU-MM01'}: generating synthetic data" in log
    assert f"Discarding {root / 'SYSU-MM01.generating'}" in log
