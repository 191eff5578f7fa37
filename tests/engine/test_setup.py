"""default_setup: output folder, log.txt with environment, config.yaml replayable from anywhere."""
import argparse
import os

import yaml

from fastreid_ext.config import load_config
from fastreid_ext.engine.defaults import default_setup


def test_default_setup_saves_replayable_config(tiny_plugin, tmp_path):
    rel = os.path.relpath(tiny_plugin, tmp_path)  # relative to the config file's folder, not the cwd
    yml = tmp_path / "exp.yml"
    out = tmp_path / "out"
    yml.write_text(yaml.safe_dump({"IMPORTS": [rel], "OUTPUT_DIR": str(out), "TINY": {"WIDTH": 3}}))
    cfg = load_config(str(yml))
    default_setup(cfg, argparse.Namespace(config_file=str(yml), eval_only=False))
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["IMPORTS"] == [tiny_plugin] and saved["TINY"]["WIDTH"] == 3
    replay = load_config(str(out / "config.yaml"))
    assert replay.TINY.WIDTH == 3 and replay.IMPORTS == [tiny_plugin]
    log = (out / "log.txt").read_text()
    assert "PyTorch" in log and "faiss" in log and "TINY" in log
