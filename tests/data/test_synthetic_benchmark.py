"""bench/synthetic_benchmark.py without training: the shared budget as overrides, per-run summaries
and the tables made from them (mean ± std per attribute source, gt marked, the attribute mA, exact
chance, paired intervals), reuse refused when a run's record differs, and the README's generated
tables equal to what the committed summaries give."""
import importlib.util
import json
import os
import sys

import pytest


@pytest.fixture(scope="module")
def bench(repo_root):
    bench_dir = str(repo_root / "bench")
    sys.path.insert(0, bench_dir)  # the script imports its sibling modules, as when run as a script
    try:
        spec = importlib.util.spec_from_file_location("synthetic_benchmark", repo_root / "bench" / "synthetic_benchmark.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        import benchmark_report
        import benchmark_rows
        mod.report_mod, mod.rows_mod = benchmark_report, benchmark_rows
        yield mod
    finally:
        sys.path.remove(bench_dir)


def test_budget_flattens_to_overrides(bench):
    """configs/Benchmark/budget.yml becomes KEY VALUE pairs that load_config accepts on top of every row."""
    from fastreid_ext.config import load_config

    assert bench.flatten({"A": {"B": [64, 32], "C": False, "D": ""}}) == ["A.B", "[64, 32]", "A.C", "False", "A.D", ""]
    budget = bench.budget_overrides()
    for row in bench.SUITES["paenet"] + bench.SUITES["plugin"]:
        cfg = load_config(str(bench.REPO + "/" + row.config), [*row.overrides, *budget, *row.after_budget])
        size = [96, 32] if row.key.startswith("hct_pcb") else [64, 32]  # 6 stripes need 6 map rows
        assert (cfg.SOLVER.OPTIMIZER, cfg.MODEL.BACKBONE.DEPTH, list(cfg.INPUT.SIZE_TRAIN)) == ("Adam", 18, size), row.key
        assert list(cfg.INPUT.SIZE_TEST) == size, row.key
        assert bench.run_opts(row, 0, "o", "d", budget, [], 1)[:len(row.overrides) + len(budget) + len(row.after_budget)] \
            == [*row.overrides, *budget, *row.after_budget]
        assert cfg.MODEL.BACKBONE.LAST_STRIDE == 1
        assert list(cfg.DATASETS.VAL) == ["SYSU_MM01_val"] and cfg.DATASETS.SYSU.HOLD_OUT_VAL
        if row.key.endswith(("_gt", "_gt_paper_recipe")):  # the paper's setting: annotations in, no recognizer
            assert not cfg.PAENET.RECOGNIZER.ENABLED and cfg.PAENET.TRAIN_ATTRIBUTE_INPUT == "gt", row.key
            assert cfg.DATASETS.ATTRIBUTES.FALLBACK == "as_is" and "predicted" not in cfg.TEST.ATTRIBUTE_SOURCES, row.key
        elif row.key.endswith("_labelfree"):
            assert cfg.PAENET.RECOGNIZER.ENABLED and cfg.PAENET.TRAIN_ATTRIBUTE_INPUT == "predicted", row.key


def test_rows_shared_by_suites_are_the_same_model(bench):
    """A row key in two suites runs once, so both suites must mean the same config and overrides."""
    paenet = {r.key: r for r in bench.SUITES["paenet"]}
    shared = [r for r in bench.SUITES["plugin"] if r.key in paenet]
    assert {r.key for r in shared} >= {"baseline", "paenet_reference_labelfree", "paenet_reference_gt"}
    assert all((r.config, r.overrides, r.seeds) == (paenet[r.key].config, paenet[r.key].overrides, paenet[r.key].seeds)
               for r in shared)


def _fake_run(d, rank1s, maps, source=""):
    os.makedirs(d, exist_ok=True)
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


def _summaries(bench, tmp_path, rows, finals, cpu=60.0):
    """Summaries of fake runs: ``finals`` {row key: [(rank1, map), ... per seed]}."""
    results = str(tmp_path / "results")
    for row in rows:
        for seed, (r, m) in enumerate(finals[row.key]):
            source = "predicted" if "labelfree" in row.key else ""
            d = _fake_run(str(tmp_path / row.key / f"seed{seed}"), [10, r], [5, m], source)
            record = {"commit": "abcdef1234567", "dirty": False, "threads": 1, "torch": "2.x", "cpu_s": cpu}
            bench.report_mod.write_summary(results, bench.report_mod.summarize(row, seed, d, record, "SYSU_MM01/all-single"))
    return results


def test_table_over_seeds(bench, tmp_path):
    Row = bench.rows_mod.Row
    rows = [Row("lf_labelfree", "label-free", "x.yml")]
    results = _summaries(bench, tmp_path, rows, {"lf_labelfree": [(20, 12), (30, 14)]}, cpu=90.0)
    summaries = bench.report_mod.load_summaries(results)
    assert sorted(summaries["lf_labelfree"]) == [0, 1]
    table, notes = bench.report_mod.rows_table(rows, summaries)
    row = next(line for line in table.splitlines() if "predicted (label-free)" in line)
    # sample standard deviation over seeds (ddof=1); the recognizer's mA; the exact chance; CPU minutes
    assert "25.00 ± 7.07" in row and "13.00 ± 1.41" in row and "72.50 ± 0.71" in row and "3.12" in row
    assert "| 0 1 " in row and row.startswith("| label-free") and row.rstrip(" |").endswith("1.5") and not notes
    leak = next(line for line in table.splitlines() if "gt (test labels: leakage)" in line)
    assert "99.00 ± 0.00" in leak and "| –" in leak  # a gt row never shows an attribute mA
    curves = summaries["lf_labelfree"][0]["curves"]["Rank-1"]
    assert curves == {"SYSU_MM01/all-single/predicted/FC/Rank-1": {"10": 10.0, "20": 20.0}}  # gt curves left out


def test_paired_comparisons_and_reuse_marks(bench, tmp_path):
    Row, Comparison = bench.rows_mod.Row, bench.rows_mod.Comparison
    rows = [Row("base", "base", "x.yml"), Row("m_labelfree", "model", "y.yml")]
    results = _summaries(bench, tmp_path, rows, {"base": [(20, 10), (22, 11), (25, 12)],
                                                 "m_labelfree": [(23, 10), (26, 11), (27, 12)]})
    path = os.path.join(results, "base", "seed_1.json")
    summary = json.load(open(path))
    summary["reused_despite"] = ["threads 2 -> 1"]
    json.dump(summary, open(path, "w"))
    text = bench.report_mod.render_suite("s", rows, [Comparison("model vs base", ("base", ""), ("m_labelfree", "predicted"))],
                                         bench.report_mod.load_summaries(results))
    line = next(line for line in text.splitlines() if "model vs base" in line and "Rank-1" in line)
    assert "+3.00 +4.00 +2.00" in line and "[+0.52, +5.48]" in line and "gain" in line  # hand computation: t(2)=4.303
    assert "| base †" in text and "† base seed 1: reused with --reuse-anyway although threads 2 -> 1" in text


def test_learning_curve_figure(bench, tmp_path):
    pytest.importorskip("matplotlib")  # the figure needs matplotlib (setup.cfg install_requires)
    Row = bench.rows_mod.Row
    rows = [Row("base", "base", "x.yml")]
    results = _summaries(bench, tmp_path, rows, {"base": [(20, 12), (30, 14)]})
    bench.plot_curves(rows, bench.report_mod.load_summaries(results), str(tmp_path / "curves.png"))
    assert (tmp_path / "curves.png").stat().st_size > 1000


def test_reuse_needs_the_same_record(bench, tmp_path):
    from fastreid_ext.utils.run_provenance import write_record

    out = str(tmp_path / "run")
    record = {"config_sha256": "a" * 64, "commit": None, "dirty": None, "diff_sha256": None, "threads": 1,
              "torch": "2.1", "data": {"preset": "benchmark", "data_seed": 0}}
    assert bench.reuse_decision(out, record, False, False) == ("train", [])  # nothing there yet
    _fake_run(out, [10], [5])
    assert bench.reuse_decision(out, record, False, False) == ("refuse", ["no run record (run.json) beside its results"])
    write_record(os.path.join(out, "run.json"), {**record, "threads": 2, "cpu_s": 1.0})
    assert bench.reuse_decision(out, record, False, False) == ("refuse", ["threads 2 -> 1"])
    assert bench.reuse_decision(out, record, False, True) == ("reuse", ["threads 2 -> 1"])
    assert bench.reuse_decision(out, record, True, False) == ("train", [])
    write_record(os.path.join(out, "run.json"), {**record, "config_sha256": "b" * 64, "wall_s": 3.0})
    assert bench.reuse_decision(out, record, False, False) == ("refuse", ["config_sha256 bbbbbbbbbbbb -> aaaaaaaaaaaa"])
    write_record(os.path.join(out, "run.json"), {**record, "wall_s": 3.0})  # information fields do not count
    assert bench.reuse_decision(out, record, False, False) == ("reuse", [])


def test_refused_reuse_stops_with_one_line_per_run(bench, tmp_path, capsys):
    """A run made before run records (no run.json) is not reused: one line, exit 2, nothing trained."""
    out = tmp_path / "out"
    _fake_run(str(out / "baseline" / "seed0"), [10], [5])
    rc = bench.main(["--suite", "paenet", "--rows", "baseline", "--seeds", "0", "--out", str(out), "--threads", "1",
                     "--data-root", str(tmp_path / "data"), "--results", str(tmp_path / "results")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and not (tmp_path / "data").exists() and not (tmp_path / "results").exists()
    assert len([line for line in err if line.startswith("error:")]) == 1
    assert "baseline/seed0: not reused, its run differs: no run record" in err[-1] and "--reuse-anyway" in err[-1]


def test_a_live_run_folder_is_never_cleared(bench, tmp_path, monkeypatch):
    """A second invocation on the same --out must not delete a training's files under it: the stale record
    is cleared only under the folder's run lock, and a run another invocation finished meanwhile is skipped."""
    from fastreid_ext.engine.run_folder import hold_run_folder

    row = bench.rows_mod.SUITES["paenet"][0]
    out = str(tmp_path / "run")
    record = {"threads": 1}
    monkeypatch.setattr(bench.subprocess, "Popen", lambda *a, **k: pytest.fail("nothing may be trained"))
    with hold_run_folder(out):  # a live training of another invocation
        with open(os.path.join(out, "metrics.json"), "w") as f:
            f.write('{"iteration": 1}\n')
        with pytest.raises(SystemExit, match=r"baseline seed 0: OUTPUT_DIR .* is in use by a live run"):
            bench.run_one(row, 0, out, [], record)
        assert os.path.isfile(os.path.join(out, "metrics.json"))
    _fake_run(out, [10], [5])  # the other invocation finished it
    assert bench.run_one(row, 0, out, [], record) is False
    assert os.path.isfile(os.path.join(out, "results.json")) and os.path.isfile(os.path.join(out, "metrics.json"))


def test_readme_block_round_trip(bench, tmp_path):
    """--write-readme puts the generated suite block between its markers; a changed summary makes the
    README differ from the generated tables (what test_readme_tables_are_generated checks)."""
    Row = bench.rows_mod.Row
    rows = [Row("base", "base", "x.yml")]
    results = _summaries(bench, tmp_path, rows, {"base": [(20, 12), (30, 14)]})
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n<!-- synthetic-benchmark:s:begin -->\nold\n<!-- synthetic-benchmark:s:end -->\n\nafter\n")
    block = bench.report_mod.render_suite("s", rows, [], bench.report_mod.load_summaries(results))
    text = bench.report_mod.replace_blocks(readme.read_text(), {"s": block})
    assert text.startswith("# x\n\n<!-- synthetic-benchmark:s:begin -->\nGenerated by") and text.endswith("end -->\n\nafter\n")
    assert bench.report_mod.readme_blocks(text) == {"s": block} and "25.00 ± 7.07" in block
    path = os.path.join(results, "base", "seed_0.json")
    summary = json.load(open(path))
    summary["final"][""]["Rank-1"] = 21.0
    json.dump(summary, open(path, "w"))
    assert bench.report_mod.render_suite("s", rows, [], bench.report_mod.load_summaries(results)) != block


def test_readme_tables_are_generated(bench):
    """The README has a generated block per suite and each equals what the committed summaries under
    bench/results/ give (empty while none are committed)."""
    report = bench.report_mod
    text = open(bench.README).read()
    blocks = report.readme_blocks(text)
    summaries = report.load_summaries(bench.RESULTS)
    assert set(blocks) == set(bench.SUITES), f"README blocks {sorted(blocks)}; expected one per suite"
    for suite, rows in bench.SUITES.items():
        assert blocks[suite] == report.render_suite(suite, rows, bench.COMPARISONS[suite], summaries), (
            f"README's {suite} tables differ from the summaries: run bench/synthetic_benchmark.py --suite {suite} "
            "--report-only --write-readme")
