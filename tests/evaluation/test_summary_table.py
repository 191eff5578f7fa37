"""The closing results table is built from the evaluators' results dict."""
from fastreid_ext.evaluation.results_writer import summary_table


def test_summary_table_rows_per_task_and_source_feature():
    results = {
        "SYSU_MM01/all-single": {"gt/FC/Rank-1": 74.2, "gt/FC/Rank-1-std": 0.5, "gt/FC/mAP": 70.1,
                                 "gt/FC/mAP-std": 0.25, "zeros/POOL/Rank-1": 10.0, "zeros/POOL/Rank-1-std": 0.0},
        "RegDB/visible2infrared": {"FC/Rank-1": 90.0, "FC/mINP": 80.0},
        "SYSU_MM01/attributes": {"gt/mA": 50.0},
    }
    lines = summary_table(results).splitlines()
    assert [c.strip() for c in lines[0].split("|")[1:-1]] == ["protocol", "feature", "Rank-1", "Rank-5", "Rank-10",
                                                               "Rank-20", "mAP", "mINP"]
    body = [[c.strip() for c in line.split("|")[1:-1]] for line in lines[2:]]
    assert body[0][:3] == ["SYSU_MM01/all-single", "gt/FC", "74.20 ± 0.50"] and body[0][6] == "70.10 ± 0.25"
    assert body[1][:4] == ["SYSU_MM01/all-single", "zeros/POOL", "10.00 ± 0.00", "-"]
    assert body[2][:3] == ["RegDB/visible2infrared", "FC", "90.00"] and body[2][-1] == "80.00"
    assert len(body) == 3  # a task without table metrics (attribute mA) adds no row
