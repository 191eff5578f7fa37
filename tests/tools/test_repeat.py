"""tools/repeat.py: statistics against a hand computation, finished seeds reused, interrupted ones
resumed, changed configs rerun (runs replaced by a fake that writes results.json), and one real
two-seed run of a tiny plugin model in a subprocess."""
import json
import math
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from fastreid_ext.evaluation.seed_statistics import flat_results, seed_statistics
from tools_testkit import load_tool

T_975_2 = 4.302652729911275  # Student's t, 97.5 % quantile, 2 degrees of freedom (statistical tables: 4.303)


def test_mean_std_and_t_interval_by_hand():
    per_seed = {0: {"D/all/FC/Rank-1": 50.0, "D/all/FC/Rank-1-std": 9.0, "D/all/FC/mAP": 30.0},
                1: {"D/all/FC/Rank-1": 52.0, "D/all/FC/mAP": 30.0},
                2: {"D/all/FC/Rank-1": 57.0, "D/all/FC/mAP": 30.0}}
    s = seed_statistics(per_seed)
    assert set(s) == {"D/all/FC/Rank-1", "D/all/FC/mAP"}  # a run's own spread (-std) is not a metric
    r1 = s["D/all/FC/Rank-1"]
    std = math.sqrt((9 + 1 + 16) / 2)
    assert r1["mean"] == pytest.approx(53.0) and r1["std"] == pytest.approx(std) and r1["n"] == 3
    half = T_975_2 * std / math.sqrt(3)
    assert r1["ci95"] == pytest.approx([53 - half, 53 + half])
    assert s["D/all/FC/mAP"]["ci95"] == pytest.approx([30.0, 30.0])
    one = seed_statistics({4: {"a/b": 1.0}})["a/b"]
    assert one["mean"] == 1.0 and math.isnan(one["std"]) and all(math.isnan(x) for x in one["ci95"])
    assert set(seed_statistics(per_seed, "mAP$")) == {"D/all/FC/mAP"}
    assert flat_results({"t": {"x": {"y": 1}, "flag": True, "name": "n"}}) == {"t/x/y": 1.0}


def _fake_runner(calls, rank1):
    def run_seed(args, seed, out, resume):
        calls.append((seed, resume))
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "results.json"), "w") as f:
            json.dump({"results": {"SYSU_MM01/all-single": {"FC/Rank-1": rank1[seed], "FC/mAP": rank1[seed] / 2}}}, f)
    return run_seed


def test_reuses_finished_resumes_interrupted_and_reruns_changed(repo_root, tmp_path, capsys):
    tool = load_tool(repo_root, "repeat")
    calls = []
    tool.run_seed = _fake_runner(calls, {0: 40.0, 1: 44.0, 2: 45.0})
    base = ["--config-file", str(repo_root / "configs/Baseline/sysu.yml")]
    opts = ["OUTPUT_DIR", str(tmp_path / "rep")]
    tool.main(base + ["--seeds", "0,1", *opts])
    assert calls == [(0, False), (1, False)]
    calls.clear()
    summary = tool.main(base + ["--seeds", "0-2", *opts])  # 0 and 1 finished: only 2 runs
    assert calls == [(2, False)]
    assert summary["SYSU_MM01/all-single/FC/Rank-1"]["values"] == [40.0, 44.0, 45.0]
    out = capsys.readouterr().out
    assert "seed 0: reused" in out and "seed 2: run" in out and "43.00 ± 2.65" in out
    saved = json.load(open(tmp_path / "rep" / "repeat.json"))
    assert saved["summary"]["SYSU_MM01/all-single/FC/mAP"]["mean"] == pytest.approx(21.5)
    assert "95 % t-interval" in open(tmp_path / "rep" / "repeat.md").read()

    # seed 1 interrupted (its run never marked finished): resumed; a changed override reruns all
    marker = tmp_path / "rep" / "seed_1" / "repeat_request.json"
    marker.write_text(json.dumps({**json.loads(marker.read_text()), "finished": False}))
    calls.clear()
    tool.main(base + ["--seeds", "0-2", *opts])
    assert calls == [(1, True)]
    calls.clear()
    tool.main(base + ["--seeds", "0-2", *opts, "SOLVER.BASE_LR", "0.01"])
    assert calls == [(0, False), (1, False), (2, False)]


def test_bad_seeds_and_metrics_are_clear_errors(repo_root, tmp_path):
    from fastreid_ext.utils.errors import UserError

    tool = load_tool(repo_root, "repeat")
    with pytest.raises(UserError, match="--seeds 'a-b'"):
        tool.parse_seeds("a-b")
    tool.run_seed = _fake_runner([], {0: 1.0})
    with pytest.raises(UserError, match="matches none of the result keys"):
        tool.main(["--config-file", str(repo_root / "configs/Baseline/sysu.yml"), "--seeds", "0",
                   "--metrics", "nothing", "OUTPUT_DIR", str(tmp_path)])


@pytest.mark.slow
def test_two_real_seeds_of_a_tiny_model(repo_root, tmp_path):
    plugin = tmp_path / "researcher" / "tinyreid"
    shutil.copytree(repo_root / "tests" / "engine" / "plugin_src" / "tinyreid", plugin,
                    ignore=shutil.ignore_patterns("__pycache__"))
    evaluator = plugin / "evaluator.py"  # results.json in the layout of the real evaluators: {"results": ...}
    evaluator.write_text(evaluator.read_text().replace("json.dump(res, f)", 'json.dump({"results": res}, f)'))
    cfg = {"IMPORTS": [str(plugin)], "OUTPUT_DIR": str(tmp_path / "rep"),
           "MODEL": {"META_ARCHITECTURE": "TinyReIDNet", "DEVICE": "cpu"},
           "DATASETS": {"NAMES": ["TinyData"], "TESTS": ["TinyData"], "ROOT": str(tmp_path / "data"),
                        "SYNTHETIC": {"PRESET": "default"}},  # the CLI writes TinyData first
           "DATALOADER": {"NUM_WORKERS": 0, "IDS_PER_BATCH": 2, "NUM_INSTANCES": 2},
           "INPUT": {"SIZE_TRAIN": [16, 8], "SIZE_TEST": [16, 8], "PADDING": 0},
           "SOLVER": {"BASE_LR": 0.05, "MAX_EPOCH": 2, "WARMUP_EPOCHS": 1, "STEPS": [1], "CHECKPOINT_PERIOD": 2},
           "TEST": {"EVAL_PERIOD": 0}}
    (tmp_path / "cfg.yml").write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(repo_root / "tools" / "repeat.py"), "--config-file", str(tmp_path / "cfg.yml"),
           "--seeds", "0-1"]
    p = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    summary = json.load(open(tmp_path / "rep" / "repeat.json"))["summary"]
    r1 = summary["TinyData/all-single/FC/Rank-1"]
    per_seed = [json.load(open(tmp_path / "rep" / f"seed_{s}" / "results.json")) for s in (0, 1)]
    assert r1["values"] == [d["results"]["TinyData/all-single"]["FC/Rank-1"] for d in per_seed]
    assert r1["values"][0] != r1["values"][1]  # the seeds differ
    again = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "seed 0: reused" in again.stdout and "seed 1: reused" in again.stdout
