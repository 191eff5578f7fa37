"""``--eval-only`` checks the test images before evaluating (issue 21, item 5): a damaged gallery image is
one line and exit code 2, as in a training run, not a traceback."""
import os
import subprocess
import sys

import torch
import yaml

from engine_testkit import copy_plugin, tiny_cfg

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_eval_only_checks_the_test_images(tiny_plugin, tmp_path):
    from fastreid_ext.engine import DefaultTrainer

    cfg = tiny_cfg(tmp_path, MODEL__HEADS__NUM_CLASSES=4)
    weights = tmp_path / "w.pth"
    torch.save({"model": DefaultTrainer.build_model(cfg).state_dict()}, weights)
    DefaultTrainer.build_evaluators(cfg)  # tiny_cfg wrote the TinyData images
    bad = tmp_path / "data" / "tinydata" / "0005_c1_0.png"  # a gallery image
    bad.write_bytes(bad.read_bytes()[:30])
    yml = tmp_path / "eval.yml"
    yml.write_text(yaml.safe_dump({
        "OUTPUT_DIR": str(tmp_path / "out"), "IMPORTS": [copy_plugin(tmp_path / "p")],
        "MODEL": {"META_ARCHITECTURE": "TinyReIDNet", "DEVICE": "cpu", "HEADS": {"NUM_CLASSES": 4}},
        "DATASETS": {"NAMES": ["TinyData"], "TESTS": ["TinyData"], "ROOT": str(tmp_path / "data"),
                     "SYNTHETIC": {"PRESET": "default"}},  # the CLI writes TinyData first
        "INPUT": {"SIZE_TRAIN": [16, 8], "SIZE_TEST": [16, 8]}, "DATALOADER": {"NUM_WORKERS": 0}}))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.run([sys.executable, os.path.join(REPO, "tools", "train_net.py"), "--config-file", str(yml),
                        "--eval-only", "MODEL.WEIGHTS", str(weights)], env=env, capture_output=True, text=True,
                       timeout=240)
    assert p.returncode == 2, p.stderr[-3000:]
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in p.stderr, p.stderr[-3000:]
    assert f"1 of 8 test images cannot be decoded, first: {bad} (" in lines[0]
