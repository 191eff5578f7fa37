"""The closing results table is built from the evaluators' results dict (+ the runs of results.json)."""
import json
import logging

from fastreid_ext.evaluation.results_writer import ATTRIBUTE_LEGEND, load_runs, summary_table

HEADER = ["protocol", "attributes", "feature", "Rank-1", "Rank-10", "Rank-20", "mAP", "mINP", "trials", "chance R-1"]


def _cells(line):
    return [c.strip() for c in line.split("|")[1:-1]]


def _parse(text):
    lines = text.splitlines()
    table = [line for line in lines if line.startswith("|")]
    return _cells(table[0]), [_cells(line) for line in table[2:]], [line for line in lines if not line.startswith("|")]


RESULTS = {
    "SYSU_MM01/all-single": {"gt/FC/Rank-1": 74.2, "gt/FC/Rank-1-std": 0.5, "gt/FC/mAP": 70.1,
                             "gt/FC/mAP-std": 0.25, "zeros/POOL/Rank-1": 10.0, "zeros/POOL/Rank-1-std": 0.0},
    "RegDB/visible2infrared": {"FC/Rank-1": 90.0, "FC/mINP": 80.0},
    "SYSU_MM01/attributes": {"gt/mA": 50.0},
}


def test_rows_per_task_and_source_feature_without_run_info():
    # the only run info: which source leaks labels, as the evaluator records what the model declares
    header, body, legend = _parse(summary_table(RESULTS, [{"task": "SYSU_MM01/all-single", "feature": "gt/FC",
                                                           "leaks_labels": True}]))
    assert header == HEADER
    # gt rows say they leak labels, and the default headline is the first row that does not
    assert body[0][:4] == ["SYSU_MM01/all-single", "gt (leakage)", "FC", "74.20 ± 0.50"] and body[0][6] == "70.10 ± 0.25"
    assert body[1][:5] == ["* SYSU_MM01/all-single", "zeros", "POOL", "10.00 ± 0.00", "-"]
    assert body[2][:4] == ["RegDB/visible2infrared", "-", "FC", "90.00"] and body[2][7] == "80.00"
    assert body[0][8:] == ["-", "-"]  # unknown trials and gallery size
    assert body[0][8] == "-"
    assert len(body) == 3  # a task without table metrics (attribute mA) adds no row
    assert ATTRIBUTE_LEGEND in legend and "label leakage" in ATTRIBUTE_LEGEND


def test_identical_and_single_trials_have_no_spread_and_chance_is_shown():
    results = {
        "SYSU_MM01/all-multi": {"FC+rerank/Rank-1": 50.0, "FC+rerank/Rank-1-std": 0.0, "FC+rerank/mAP": 40.0, "FC+rerank/mAP-std": 0.0},
        "SYSU_MM01/all-single": {"FC/Rank-1": 30.0, "FC/Rank-1-std": 2.0},
        "RegDB/visible2infrared": {"FC/Rank-1": 90.0, "FC/Rank-1-std": 0.0},
    }
    same = {"Rank-1": 50.0, "mAP": 40.0}
    runs = [
        {"task": "SYSU_MM01/all-multi", "feature": "FC+rerank", "num_trials": 10, "per_trial": [same] * 10, "gallery_ids": [8] * 10},
        {"task": "SYSU_MM01/all-single", "feature": "FC", "num_trials": 2, "per_trial": [{"Rank-1": 28.0}, {"Rank-1": 32.0}],
         "gallery_ids": [8, 5]},
        {"task": "RegDB/visible2infrared", "feature": "FC", "num_trials": 1, "per_trial": [{"Rank-1": 90.0}], "gallery_ids": [206]},
    ]
    _, body, legend = _parse(summary_table(results, runs, headline="SYSU_MM01/all-single/FC/Rank-1"))
    assert body[0] == ["SYSU_MM01/all-multi", "-", "FC+rerank", "50.00", "-", "-", "40.00", "-", "10 identical", "12.50"]
    assert body[1][:4] == ["* SYSU_MM01/all-single", "-", "FC", "30.00 ± 2.00"] and body[1][8:] == ["2", f"{(12.5 + 20) / 2:.2f}"]
    assert body[2][3] == "90.00" and body[2][8:] == ["1", f"{100 / 206:.2f}"]
    assert "SYSU_MM01/all-single/FC/Rank-1" in legend[0] and ATTRIBUTE_LEGEND not in legend


def test_load_runs_reads_every_results_json(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps({"runs": [{"task": "a"}]}))
    (tmp_path / "inference" / "RegDB").mkdir(parents=True)
    (tmp_path / "inference" / "RegDB" / "results.json").write_text(json.dumps({"runs": [{"task": "b"}]}))
    assert [r["task"] for r in load_runs(str(tmp_path))] == ["a", "b"]
    assert load_runs(str(tmp_path / "missing")) == []


def test_faiss_loader_lines_are_quiet_after_setup(tmp_path):
    from fastreid_ext.utils.logger import setup_logger

    setup_logger(str(tmp_path), name="quiet_test")
    assert not logging.getLogger("faiss.loader").isEnabledFor(logging.INFO)
    assert logging.getLogger("faiss.loader").isEnabledFor(logging.WARNING)


def test_the_evaluated_regdb_split_is_in_the_protocol_cell():
    runs = [{"task": "RegDB/visible2infrared", "feature": "FC", "split_trial": 3, "num_trials": 1}]
    _, body, _ = _parse(summary_table({"RegDB/visible2infrared": {"FC/Rank-1": 90.0}}, runs))
    assert body[0][0] == "* RegDB/visible2infrared (split 3)"
