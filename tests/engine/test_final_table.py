"""The run's closing log: the results table, then the attribute recognizer's mA per source."""
import logging

from fastreid_ext.config import get_cfg
from fastreid_ext.engine.cli import _log_final_table


def _cfg(tmp_path):
    cfg = get_cfg()
    cfg.OUTPUT_DIR = str(tmp_path)  # the table is built from the results and the runs of results.json, if any
    return cfg


def test_final_table_ends_with_attribute_mA_per_source(caplog, tmp_path):
    import json

    # the evaluator records which sources leak labels, as the model declares them (modeling.input_sources)
    (tmp_path / "results.json").write_text(json.dumps({"runs": [
        {"task": "SYSU_MM01/all-single", "feature": "gt/FC", "attribute_source": "gt", "leaks_labels": True}]}))
    results = {"SYSU_MM01/all-single": {"predicted/FC/Rank-1": 20.0, "predicted/FC/chance": 2.5},
               "SYSU_MM01/attributes": {"predicted/mA": 81.25, "predicted/mAcc": 90.0, "predicted/acc/glasses": 70.0,
                                        "gt/mA": 95.5, "gt/mAcc": 97.0}}
    with caplog.at_level(logging.INFO, logger="fastreid_ext.engine.cli"):
        _log_final_table(results, _cfg(tmp_path))
    text = caplog.text
    assert "SYSU_MM01/all-single | predicted    | FC " in text and "2.50" in text
    assert text.rstrip().endswith("Attribute recognition mA on the test images (percent): "
                                  "SYSU_MM01: predicted 81.25, gt (leakage) 95.50")


def test_final_table_without_attributes_has_no_mA_line(caplog, tmp_path):
    with caplog.at_level(logging.INFO, logger="fastreid_ext.engine.cli"):
        _log_final_table({"RegDB/visible2infrared": {"FC/Rank-1": 90.0}}, _cfg(tmp_path))
    assert "90.00" in caplog.text and "Attribute recognition" not in caplog.text
