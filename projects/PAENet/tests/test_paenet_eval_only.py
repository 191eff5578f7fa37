"""tools/train_net.py on a tiny PAENet config, then ``--eval-only MODEL.WEIGHTS OUTPUT_DIR/model_final.pth``
reproduces the end-of-training numbers exactly, for every attribute source."""
import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def _run(cwd, repo_root, *args):
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR")}
    env.update(OMP_NUM_THREADS="2", MKL_NUM_THREADS="2")
    p = subprocess.run([sys.executable, str(repo_root / "tools" / "train_net.py"), *map(str, args)], cwd=cwd,
                       env=env, capture_output=True, text=True, timeout=400)
    assert p.returncode == 0, f"rc={p.returncode}\nstdout:\n{p.stdout[-3000:]}\nstderr:\n{p.stderr[-3000:]}"
    return p


@pytest.mark.parametrize("variant", ["reference"])
def test_eval_only_reproduces_training_results(tmp_path, repo_root, sysu_root, variant):
    out = tmp_path / "out"
    opts = ["DATASETS.ROOT", sysu_root, "OUTPUT_DIR", out,
            "PAENET.VARIANT", variant, "INPUT.SIZE_TRAIN", "[64, 32]", "INPUT.SIZE_TEST", "[64, 32]",
            "DATALOADER.IDS_PER_BATCH", "2", "DATALOADER.NUM_INSTANCES", "2", "DATALOADER.ITERS_PER_EPOCH", "3",
            "SOLVER.MAX_EPOCH", "1", "SOLVER.WARMUP_EPOCHS", "0", "SOLVER.STEPS", "[1]", "SOLVER.CHECKPOINT_PERIOD", "1",
            "TEST.SYSU.NUM_TRIALS", "2", "TEST.SYSU.MODES", '["all"]', "TEST.SYSU.SHOTS", '["single"]']
    _run(tmp_path, repo_root, "--config-file", repo_root / "configs/PAENet/demo.yml", *opts)
    trained = json.loads((out / "results.json").read_text())
    ev = tmp_path / "eval"
    _run(tmp_path, repo_root, "--config-file", out / "config.yaml", "--eval-only",
         "MODEL.WEIGHTS", out / "model_final.pth", "OUTPUT_DIR", ev)
    evaluated = json.loads((ev / "inference" / "model_final" / "results.json").read_text())
    metrics = trained["results"]["SYSU_MM01/all-single"]
    assert {f"{s}/FC/Rank-1" for s in ("gt", "predicted", "zeros")} <= set(metrics)
    # the demo is label-free: the recognizer's attribute figures are reported for the predicted source
    attributes = trained["results"]["SYSU_MM01/attributes"]
    assert 0 <= attributes["predicted/mA"] <= 100
    assert attributes["predicted/mA"] == attributes["gt/mA"]  # the recognizer does not read PAE's input
    assert evaluated["results"] == trained["results"]  # exactly, every source and feature
