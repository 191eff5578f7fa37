"""TPR at FPR from pair distances against sklearn.metrics.roc_curve (ties included), and the pair split
against a loop."""
import math

import numpy as np
import pytest

from fastreid_ext.evaluation.roc import FPR_LEVELS, split_pair_distances, tpr_at_fpr

sklearn_metrics = pytest.importorskip("sklearn.metrics")


def _sklearn_tpr_at_fpr(pos, neg, f):
    labels = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    fpr, tpr, _ = sklearn_metrics.roc_curve(labels, -np.r_[pos, neg], drop_intermediate=False)  # small = similar
    return float(tpr[fpr <= f + 1e-12].max())


@pytest.mark.parametrize("seed,decimals", [(0, 6), (1, 1), (2, 0)])  # decimals 1 and 0: many ties
def test_matches_sklearn_roc_curve(seed, decimals):
    rng = np.random.default_rng(seed)
    pos = np.round(rng.normal(0.6, 0.3, 700), decimals)
    neg = np.round(rng.normal(1.2, 0.3, 23000), decimals)
    levels = (*FPR_LEVELS, 0.0, 0.5, 1.0)
    ours = tpr_at_fpr(pos, neg, levels)
    for f in levels:
        assert ours[f] == pytest.approx(_sklearn_tpr_at_fpr(pos, neg, f), abs=1e-12), f
    assert ours[1e-4] <= ours[1e-3] <= ours[1e-2] <= ours[1e-1] and ours[1.0] == 1.0


def test_separable_and_empty_cases():
    assert tpr_at_fpr([0.1, 0.2], [0.5, 0.6], (0.0,)) == {0.0: 1.0}
    assert tpr_at_fpr([0.7, 0.2], [0.5, 0.6], (0.0, 0.5)) == {0.0: 0.5, 0.5: 0.5}
    assert math.isnan(tpr_at_fpr([], [0.5], (0.1,))[0.1])
    with pytest.raises(ValueError, match="FPR levels"):
        tpr_at_fpr([0.1], [0.2], (2.0,))


def test_pair_split_against_a_loop():
    rng = np.random.default_rng(3)
    d = rng.random((5, 7))
    q, g = rng.integers(0, 3, 5), rng.integers(0, 3, 7)
    valid = rng.random((5, 7)) > 0.3
    pos, neg = split_pair_distances(d, q, g, valid)
    ref_pos = sorted(d[i, j] for i in range(5) for j in range(7) if valid[i, j] and q[i] == g[j])
    ref_neg = sorted(d[i, j] for i in range(5) for j in range(7) if valid[i, j] and q[i] != g[j])
    assert sorted(pos) == ref_pos and sorted(neg) == ref_neg
    with pytest.raises(ValueError, match="distmat is"):
        split_pair_distances(d, q[:4], g)
