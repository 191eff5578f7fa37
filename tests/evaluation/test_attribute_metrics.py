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
