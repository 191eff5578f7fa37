"""Paired-by-seed differences and their 95 % t-interval against a hand computation, and the reading
rule (gain / loss only when the interval excludes 0)."""
import math

import pytest

from fastreid_ext.evaluation.paired_differences import NO_DIFFERENCE, paired_difference, paired_table, reading

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
