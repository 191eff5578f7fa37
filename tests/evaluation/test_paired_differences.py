"""Paired-by-seed differences and their 95 % t-interval against a hand computation, and the reading
rule (gain / loss only when the interval excludes 0)."""
import math

import pytest

from fastreid_ext.evaluation.paired_differences import NO_DIFFERENCE, holm, paired_difference, paired_table, reading

T_975_2 = 4.302652729911275  # Student t, 0.975 quantile, 2 degrees of freedom (printed tables: 4.303)


def test_gain_by_hand():
    # b - a per seed: 3, 4, 2 → mean 3, sample std 1, half-width 4.3027 · 1 / √3 = 2.4841
    d = paired_difference({0: 20.0, 1: 22.0, 2: 25.0, 7: 1.0}, {0: 23.0, 1: 26.0, 2: 27.0})
    assert d.seeds == (0, 1, 2) and d.differences == (3.0, 4.0, 2.0)  # seed 7 has no partner
    assert d.mean == pytest.approx(3.0) and d.std == pytest.approx(1.0)
    half = T_975_2 / math.sqrt(3)
    assert (d.low, d.high) == (pytest.approx(3 - half), pytest.approx(3 + half))
    assert d.reading == "gain"


def test_interval_covering_zero_and_loss():
    # 1, -1, 3 → mean 1, std 2, half-width 4.968: covers 0
    d = paired_difference({0: 10, 1: 10, 2: 10}, {0: 11, 1: 9, 2: 13})
    assert d.std == pytest.approx(2.0) and d.high - d.mean == pytest.approx(T_975_2 * 2 / math.sqrt(3))
    assert d.reading == NO_DIFFERENCE
    assert paired_difference({0: 23.0, 1: 26.0, 2: 27.0}, {0: 20.0, 1: 22.0, 2: 25.0}).reading == "loss"
    assert paired_difference({0: 1.0}, {0: 2.0}).reading == "too few seeds"
    assert reading(-0.1, 0.2) == NO_DIFFERENCE and reading(0.01, 0.2) == "gain"
    with pytest.raises(ValueError, match="no common seed"):
        paired_difference({0: 1.0}, {1: 1.0})


def test_table_prints_the_interval():
    d = paired_difference({0: 20.0, 1: 22.0, 2: 25.0}, {0: 23.0, 1: 26.0, 2: 27.0})
    line = paired_table([("x vs y", "Rank-1", d)]).splitlines()[-1]
    assert "+3.00 +4.00 +2.00" in line and "[+0.52, +5.48]" in line and "gain" in line


def test_p_value_is_scipys_paired_t_test_and_agrees_with_the_interval():
    from scipy import stats

    a = {0: 33.1, 1: 30.2, 2: 35.9, 3: 31.0, 4: 36.4}
    for b in ({0: 24.0, 1: 21.5, 2: 30.3, 3: 22.8, 4: 25.1}, {0: 33.0, 1: 31.9, 2: 34.8, 3: 33.5, 4: 35.0}):
        d = paired_difference(a, b)
        ref = stats.ttest_rel([b[s] for s in sorted(a)], [a[s] for s in sorted(a)]).pvalue
        assert d.p_value == pytest.approx(ref, rel=1e-9)
        assert (d.p_value < 0.05) == (d.reading != NO_DIFFERENCE)  # the test the interval inverts
    assert math.isnan(paired_difference({0: 1.0}, {0: 2.0}).p_value)
    assert paired_difference({0: 1.0, 1: 2.0}, {0: 2.0, 1: 3.0}).p_value == 0.0  # the same +1 in every seed


def test_holm_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04 of m = 4: 0.02, 0.03, 0.06, max(0.06, 0.04) = 0.06; NaN not counted
    q = holm([0.01, 0.04, math.nan, 0.03, 0.005])
    assert q[:2] == [pytest.approx(0.03), pytest.approx(0.06)] and math.isnan(q[2])
    assert q[3:] == [pytest.approx(0.06), pytest.approx(0.02)]
    assert holm([0.6, 0.5]) == [pytest.approx(1.0), pytest.approx(1.0)]  # capped at 1


def test_table_adjusts_within_each_metric():
    gain = paired_difference({0: 20.0, 1: 22.0, 2: 25.0}, {0: 23.0, 1: 26.0, 2: 27.0})
    none = paired_difference({0: 10, 1: 10, 2: 10}, {0: 11, 1: 9, 2: 13})
    lines = paired_table([("x", "Rank-1", gain), ("y", "Rank-1", none), ("x", "mAP", gain)]).splitlines()[2:]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    q = holm([gain.p_value, none.p_value])
    assert cells[0][-2:] == [f"{gain.p_value:.3f}", f"{q[0]:.3f}"]
    assert cells[1][-2:] == [f"{none.p_value:.3f}", f"{q[1]:.3f}"]
    assert cells[2][-2:] == [f"{gain.p_value:.3f}", f"{gain.p_value:.3f}"]  # alone in its metric: unadjusted
