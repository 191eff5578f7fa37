"""tools/regdb_trials.py trains and evaluates two RegDB trials on the tiny synthetic RegDB and reports
the mean ± std of their results; run as a script, bad input ends with one line and exit code 2."""
import json
import runpy
import sys

import numpy as np
import pytest
import yaml

from tools_testkit import load_tool, tiny_opts
from fastreid_ext.utils.errors import UserError


@pytest.mark.slow
def test_two_trials_mean_and_std(repo_root, regdb_root, tmp_path):
    tool = load_tool(repo_root, "regdb_trials")
    opts = [str(v) for v in tiny_opts(regdb_root, tmp_path / "regdb", dataset="RegDB")]
    opts += ["TEST.EVAL_PERIOD", "0", "SOLVER.MAX_EPOCH", "1", "TEST.SAVE_FEATURES", "False"]
    summary = tool.main(["--config-file", str(repo_root / "configs/Baseline/regdb.yml"), "--trials", "1,2", *opts])
    per_trial = {}
    for t in (1, 2):
        d = tmp_path / "regdb" / f"trial_{t}"
        assert yaml.safe_load((d / "config.yaml").read_text())["DATASETS"]["REGDB"]["TRIAL"] == t
        per_trial[t] = json.loads((d / "results.json").read_text())["results"]
    key = "RegDB/visible2infrared"
    values = [per_trial[t][key]["FC/Rank-1"] for t in (1, 2)]
    entry = summary[key]["FC"]["Rank-1"]
    assert entry["values"] == values
    assert entry["mean"] == pytest.approx(np.mean(values)) and entry["std"] == pytest.approx(np.std(values))
    table = (tmp_path / "regdb" / "regdb_trials.md").read_text()
    assert f"{np.mean(values):.2f} ± {np.std(values):.2f}" in table and "trials [1, 2]" in table
    saved = json.loads((tmp_path / "regdb" / "regdb_trials.json").read_text())
    assert saved["trials"] == [1, 2] and set(saved["per_trial"]) == {"1", "2"}


def test_bad_trials_and_dataset(repo_root, tmp_path):
    tool = load_tool(repo_root, "regdb_trials")
    with pytest.raises(UserError, match="--trials '9-11': RegDB has trials 1..10"):
        tool.main(["--config-file", str(repo_root / "configs/Baseline/regdb.yml"), "--trials", "9-11"])
    assert tool.parse_trials("1-3,8,2") == [1, 2, 3, 8]
    with pytest.raises(UserError, match="needs RegDB"):
        tool.main(["--config-file", str(repo_root / "configs/Baseline/sysu.yml"), "--trials", "1"])


def test_script_ends_a_user_error_with_one_line(repo_root, monkeypatch, capsys):
    script = str(repo_root / "tools" / "regdb_trials.py")
    monkeypatch.setattr(sys, "argv", [script, "--config-file", str(repo_root / "configs/Baseline/regdb.yml"), "--trials", "0"])
    monkeypatch.delenv("FASTREID_DEBUG", raising=False)
    with pytest.raises(SystemExit) as e:
        runpy.run_path(script, run_name="__main__")
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: UserError: --trials '0': RegDB has trials 1..10.", err
    monkeypatch.setenv("FASTREID_DEBUG", "1")  # the traceback instead
    with pytest.raises(UserError, match="RegDB has trials 1..10"):
        runpy.run_path(script, run_name="__main__")
