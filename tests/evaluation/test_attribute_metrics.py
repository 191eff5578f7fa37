"""Attribute recognition: per-attribute accuracy and mA on known attributes only."""
import numpy as np
import pytest

from fastreid_ext.evaluation.attribute_metrics import attribute_recognition


def test_accuracy_and_mA_on_known_attributes_only():
    targets = np.array([[1, 0, 1], [1, 1, 0], [0, 1, 0], [0, 0, 1]], np.float32)
    probs = np.array([[0.9, 0.2, 0.1], [0.4, 0.8, 0.3], [0.1, 0.3, 0.7], [0.6, 0.1, 0.9]])
    mask = np.ones_like(targets, bool)
    mask[3, 0] = False  # unknown: its wrong prediction must not count
    mask[:, 2] = False  # never known: left out
    out = attribute_recognition(probs, targets, mask, ["a", "b", "c"])
    # a: known rows 0-2, pred [1,0,0] vs [1,1,0]: TPR 1/2, TNR 1, acc 2/3
    # b: pred [0,1,0,0] vs [0,1,1,0]: TPR 1/2, TNR 1, acc 3/4
    assert out["acc/a"] == pytest.approx(100 * 2 / 3) and out["acc/b"] == pytest.approx(75.0)
    assert "acc/c" not in out
    assert out["mA"] == pytest.approx(75.0)
    assert out["mAcc"] == pytest.approx(100 * (2 / 3 + 3 / 4) / 2)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shapes"):
        attribute_recognition(np.zeros((2, 3)), np.zeros((2, 2)), np.ones((2, 3), bool))


def test_attribute_table_has_a_row_per_attribute_and_a_column_per_source():
    from fastreid_ext.evaluation.attribute_metrics import attribute_table

    figures = {"predicted/acc/glasses": 70.0, "predicted/acc/hat": 82.5, "predicted/mA": 71.25, "predicted/mAcc": 76.25,
               "gt/acc/glasses": 90.0, "gt/acc/hat": 95.0, "gt/mA": 91.0, "gt/mAcc": 92.5}
    lines = attribute_table(figures, leaking={"gt"}).splitlines()  # the model declares gt as leaking
    assert [c.strip() for c in lines[0].strip("|").split("|")] == ["attribute", "predicted", "gt (leakage)"]
    body = {cells[0]: cells[1:] for cells in ([c.strip() for c in line.strip("|").split("|")] for line in lines[2:])}
    assert list(body) == ["glasses", "hat", "mA", "mAcc"]
    assert body["hat"] == ["82.50", "95.00"] and body["mA"] == ["71.25", "91.00"]
    # a model evaluated without attribute sources: keys carry no prefix
    plain = attribute_table({"acc/glasses": 60.0, "mA": 55.0, "mAcc": 60.0}).splitlines()
    assert "accuracy" in plain[0] and plain[2].split("|")[1].strip() == "glasses" and len(plain) == 5
