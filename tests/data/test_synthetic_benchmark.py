"""bench/synthetic_benchmark.py without training: chance Rank-1 of a gallery (golden value), the
mean ± std table over seeds and the learning-curve figure from runs' files."""
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


def test_chance_rank1_golden(bench, tmp_path):
    """Test ids 7 (cams 1, 2; two images in cam 3) and 9 (cam 1; one image in cam 6), train id 5
    ignored: all-search gallery = 3 images, hit chances 2/3, 2/3, 1/3 → 5/9; indoor the same here."""
    root = tmp_path / "SYSU-MM01"
    (root / "exp").mkdir(parents=True)
    (root / "exp" / "test_id.txt").write_text("7,9\n")
    for rel in ("cam1/0007/0001.jpg", "cam2/0007/0001.jpg", "cam3/0007/0001.jpg", "cam3/0007/0002.jpg",
                "cam1/0009/0001.jpg", "cam1/0009/0002.jpg", "cam6/0009/0001.jpg", "cam4/0005/0001.jpg"):
        _touch(str(root / rel))
    assert bench.chance_rank1(str(root), "all") == pytest.approx(100 * 5 / 9)
    _touch(str(root / "cam4/0009/0001.jpg"))  # a third visible camera for id 9 (all-search only)
    assert bench.chance_rank1(str(root), "all") == pytest.approx(100 * (2 / 4 + 2 / 4 + 2 / 4) / 3)
    assert bench.chance_rank1(str(root), "indoor") == pytest.approx(100 * 5 / 9)


def _fake_run(d, rank1s, maps):
    os.makedirs(d)
    with open(os.path.join(d, "metrics.json"), "w") as f:
        for it, (r, m) in enumerate(zip(rank1s, maps)):
            f.write(json.dumps({"iteration": 10 * it + 9, "total_loss": 1.0}) + "\n")
            # evaluations: after step 10 * it + 9, and the final one stamped one past the last step
            f.write(json.dumps({"iteration": 10 * it + 9 + (it == len(rank1s) - 1), "SYSU_MM01/all-single/FC/Rank-1": r,
                                "SYSU_MM01/all-single/FC/mAP": m}) + "\n")
    results = {"SYSU_MM01/all-single": {"FC/Rank-1": rank1s[-1], "FC/Rank-1-std": 9.0, "FC/mAP": maps[-1]}}
    with open(os.path.join(d, "results.json"), "w") as f:
        json.dump({"results": results}, f)
    return d


def _runs(tmp_path):
    return {"baseline": [_fake_run(str(tmp_path / "b0"), [10, 20], [5, 12]), _fake_run(str(tmp_path / "b1"), [10, 30], [5, 14])]}


def test_table_over_seeds(bench, tmp_path):
    import re

    runs = _runs(tmp_path)
    table = bench.write_table(runs, {"all": 3.125, "indoor": 6.25}, re.compile("all-single"))
    row = next(line for line in table.splitlines() if line.startswith("| baseline"))
    # sample standard deviation over seeds (ddof=1)
    assert "25.00 ± 7.07" in row and "13.00 ± 1.41" in row and "3.12" in row and re.search(r"\|\s+2\s+\|", row)
    assert bench.curves(runs["baseline"][0], "Rank-1", re.compile("all"))["SYSU_MM01/all-single/FC/Rank-1"] == {10: 10.0, 20: 20.0}


def test_learning_curve_figure(bench, tmp_path):
    import re

    pytest.importorskip("matplotlib")  # the figure needs matplotlib (setup.cfg install_requires)
    bench.plot_curves(_runs(tmp_path), re.compile("all-single"), str(tmp_path / "curves.png"))
    assert (tmp_path / "curves.png").stat().st_size > 1000
