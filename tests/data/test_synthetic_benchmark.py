"""bench/synthetic_benchmark.py without training: the shared budget as overrides, the mean ± std
table over seeds (per attribute source, gt marked, the recognizer's mA, exact chance) and the
learning-curve figure from runs' files."""
import importlib.util
import json
import os

import pytest


@pytest.fixture(scope="module")
def bench(repo_root):
    spec = importlib.util.spec_from_file_location("synthetic_benchmark", repo_root / "bench" / "synthetic_benchmark.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _touch(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "wb").close()


def test_budget_flattens_to_overrides(bench):
    """configs/Benchmark/budget.yml becomes KEY VALUE pairs that load_config accepts on top of every row."""
    from fastreid_ext.config import load_config

    assert bench.flatten({"A": {"B": [64, 32], "C": False, "D": ""}}) == ["A.B", "[64, 32]", "A.C", "False", "A.D", ""]
    budget = bench.budget_overrides()
    for row in bench.SUITES["paenet"] + bench.SUITES["plugin"]:
        cfg = load_config(str(bench.REPO + "/" + row.config), [*row.overrides, *budget])
        assert (cfg.SOLVER.OPTIMIZER, cfg.MODEL.BACKBONE.DEPTH, list(cfg.INPUT.SIZE_TRAIN)) == ("Adam", 18, [64, 32])
        assert list(cfg.DATASETS.VAL) == ["SYSU_MM01_val"] and cfg.DATASETS.SYSU.HOLD_OUT_VAL
        if row.key.endswith("_gt"):  # the paper's setting: annotations in, no recognizer, the official lookup
            assert not cfg.PAENET.RECOGNIZER.ENABLED and cfg.PAENET.TRAIN_ATTRIBUTE_INPUT == "gt", row.key
            assert cfg.DATASETS.ATTRIBUTES.FALLBACK == "as_is" and "predicted" not in cfg.TEST.ATTRIBUTE_SOURCES, row.key
        elif row.key.endswith("_labelfree"):
            assert cfg.PAENET.RECOGNIZER.ENABLED and cfg.PAENET.TRAIN_ATTRIBUTE_INPUT == "predicted", row.key


def test_rows_shared_by_suites_are_the_same_model(bench):
    """A row key in two suites runs once, so both suites must mean the same config and overrides."""
    paenet = {r.key: r for r in bench.SUITES["paenet"]}
    shared = [r for r in bench.SUITES["plugin"] if r.key in paenet]
    assert {r.key for r in shared} >= {"baseline", "paenet_reference_labelfree", "paenet_reference_gt"}
    assert all((r.config, r.overrides) == (paenet[r.key].config, paenet[r.key].overrides) for r in shared)


def _fake_run(d, rank1s, maps, source=""):
    os.makedirs(d)
    pre = f"{source}/" if source else ""
    with open(os.path.join(d, "metrics.json"), "w") as f:
        for it, (r, m) in enumerate(zip(rank1s, maps)):
            f.write(json.dumps({"iteration": 10 * it + 9, "total_loss": 1.0}) + "\n")
            # evaluations: after step 10 * it + 9, and the final one stamped one past the last step
            f.write(json.dumps({"iteration": 10 * it + 9 + (it == len(rank1s) - 1), f"SYSU_MM01/all-single/{pre}FC/Rank-1": r,
                                f"SYSU_MM01/all-single/{pre}FC/mAP": m, "SYSU_MM01/all-single/gt/FC/Rank-1": 99.0}) + "\n")
    results = {"SYSU_MM01/all-single": {f"{pre}FC/Rank-1": rank1s[-1], f"{pre}FC/Rank-1-std": 9.0, f"{pre}FC/mAP": maps[-1],
                                        f"{pre}FC/mINP": 1.0, f"{pre}FC/chance": 3.125, "gt/FC/Rank-1": 99.0,
                                        "gt/FC/mAP": 99.0, "gt/FC/mINP": 99.0, "gt/FC/chance": 3.125},
               "SYSU_MM01/attributes": {f"{pre}mA": 70.0 + rank1s[-1] / 10, "gt/mA": 70.0}}
    with open(os.path.join(d, "results.json"), "w") as f:
        json.dump({"results": results}, f)
    return d


def _runs(tmp_path):
    return {"baseline": [_fake_run(str(tmp_path / "b0"), [10, 20], [5, 12]), _fake_run(str(tmp_path / "b1"), [10, 30], [5, 14])]}


def test_table_over_seeds(bench, tmp_path):
    import re

    runs = {"lf": [_fake_run(str(tmp_path / "b0"), [10, 20], [5, 12], "predicted"),
                   _fake_run(str(tmp_path / "b1"), [10, 30], [5, 14], "predicted")]}
    table = bench.write_table(runs, {"lf": "label-free"}, "SYSU_MM01/all-single")
    row = next(line for line in table.splitlines() if "predicted (label-free)" in line)
    # sample standard deviation over seeds (ddof=1); the recognizer's mA; the exact chance of the gallery
    assert "25.00 ± 7.07" in row and "13.00 ± 1.41" in row and "72.50 ± 0.71" in row and "3.12" in row
    assert re.search(r"\|\s+2\s+\|", row) and row.startswith("| label-free")
    leak = next(line for line in table.splitlines() if "gt (test labels: leakage)" in line)
    assert "99.00 ± 0.00" in leak and "| –" in leak  # a gt row never shows an attribute mA
    curve = bench.curves(runs["lf"][0], "Rank-1", re.compile("all"))
    assert curve == {"SYSU_MM01/all-single/predicted/FC/Rank-1": {10: 10.0, 20: 20.0}}  # gt curves left out
    keys = ["SYSU_MM01/all-single/predicted/FC/Rank-1", "SYSU_MM01_val/all-single/predicted/FC/Rank-1",
            "SYSU_MM01_val/all-single/zeros/FC/Rank-1"]
    assert bench._headline_keys(keys) == ["SYSU_MM01_val/all-single/predicted/FC/Rank-1"]  # one curve per run


def test_learning_curve_figure(bench, tmp_path):
    import re

    pytest.importorskip("matplotlib")  # the figure needs matplotlib (setup.cfg install_requires)
    bench.plot_curves(_runs(tmp_path), {"baseline": "baseline"}, re.compile("all-single"), str(tmp_path / "curves.png"))
    assert (tmp_path / "curves.png").stat().st_size > 1000
