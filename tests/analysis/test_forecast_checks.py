"""The forecast checks against hand computations and the textbook formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from stress.analysis.forecast_checks import (
    after_event_coverage,
    brier_score,
    brier_skill,
    christoffersen_independence,
    coverage_test,
    forecast_checks,
    frequency,
    poisson_binomial_pmf,
    reliability_table,
)


def test_brier_score_and_skill_by_hand():
    p, y = [0.1, 0.5, 0.9], [0, 1, 1]
    assert brier_score(p, y) == pytest.approx((0.01 + 0.25 + 0.01) / 3)
    # a constant forecast of the frequency f scores f (1 - f)
    assert brier_score([2 / 3] * 3, y) == pytest.approx(2 / 9)
    assert brier_skill(0.09, 2 / 9) == pytest.approx(1 - 0.09 * 9 / 2)
    assert brier_score([0, 1], [0, 1]) == 0.0
    assert math.isnan(brier_skill(0.1, 0.0))


def test_frequency_has_the_wilson_interval():
    f = frequency([1, 0, 0, 0])
    assert (f["events"], f["days"], f["frequency"]) == (1, 4, 0.25)
    # Wilson by hand: centre (p + z^2/2n) / (1 + z^2/n), half z sqrt(p q / n + z^2/4n^2) / (...)
    z, n, p = 1.959963984540054, 4, 0.25
    d = 1 + z * z / n
    centre, half = (
        (p + z * z / (2 * n)) / d,
        z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d,
    )
    assert f["ci"] == pytest.approx([centre - half, centre + half])


def test_poisson_binomial_pmf_by_hand_and_binomial_when_constant():
    assert poisson_binomial_pmf([0.5, 0.5]) == pytest.approx([0.25, 0.5, 0.25])
    # 0.2 and 0.7: none 0.8 * 0.3, one 0.2 * 0.3 + 0.8 * 0.7, both 0.2 * 0.7
    assert poisson_binomial_pmf([0.2, 0.7]) == pytest.approx([0.24, 0.62, 0.14])
    pmf = poisson_binomial_pmf([0.03] * 730)
    assert pmf == pytest.approx(stats.binom.pmf(np.arange(731), 730, 0.03), abs=1e-14)
    assert pmf.sum() == pytest.approx(1.0)


def test_coverage_test_by_hand():
    out = coverage_test([0.2, 0.7], [1, 1])
    assert out["observed"] == 2 and out["expected"] == pytest.approx(0.9)
    # P(K >= 2) = 0.14 is the smaller tail: doubled
    assert out["p_value"] == pytest.approx(0.28)
    sd = math.sqrt(0.2 * 0.8 + 0.7 * 0.3)
    assert out["sd"] == pytest.approx(sd) and out["z"] == pytest.approx(1.1 / sd)
    assert out["p_value_normal"] == pytest.approx(2 * stats.norm.sf(1.1 / sd))
    assert coverage_test([0.5, 0.5], [1, 0])["p_value"] == 1.0  # capped


def test_coverage_with_a_constant_forecast_is_the_doubled_binomial_tail():
    rng = np.random.default_rng(1)
    y = (rng.random(730) < 0.05).astype(int)
    k = int(y.sum())
    out = coverage_test(np.full(730, 0.03), y)
    tails = stats.binom.cdf(k, 730, 0.03), stats.binom.sf(k - 1, 730, 0.03)
    assert out["p_value"] == pytest.approx(min(1.0, 2 * min(tails)), rel=1e-9)


def test_coverage_with_certain_forecasts():
    assert coverage_test([0.0, 1.0], [0, 1])["p_value"] == 1.0
    out = coverage_test([0.0, 0.0], [0, 1])
    assert out["p_value"] == 0.0 and out["z"] == math.inf and out["p_value_normal"] == 0.0


def test_christoffersen_by_the_textbook_formula():
    y = [0, 0, 1, 1, 0, 1, 0, 0]
    out = christoffersen_independence(y)
    # transitions: 00, 01, 11, 10, 01, 10, 00
    assert (out["n00"], out["n01"], out["n10"], out["n11"]) == (2, 2, 2, 1)
    pi01, pi11, pi = 2 / 4, 1 / 3, 3 / 7
    assert (out["pi01"], out["pi11"]) == pytest.approx((pi01, pi11))
    null = 4 * math.log(1 - pi) + 3 * math.log(pi)
    alt = 2 * math.log(1 - pi01) + 2 * math.log(pi01) + 2 * math.log(1 - pi11) + math.log(pi11)
    lr = -2 * (null - alt)
    assert out["lr"] == pytest.approx(lr)
    assert out["p_value"] == pytest.approx(stats.chi2.sf(lr, 1))


def test_christoffersen_sees_clusters_and_handles_degenerate_sequences():
    clustered = [0] * 50 + [1] * 10 + [0] * 50 + [1] * 10 + [0] * 50
    assert christoffersen_independence(clustered)["p_value"] < 1e-6
    none = christoffersen_independence([0] * 20)
    assert none["lr"] == 0.0 and none["p_value"] == 1.0 and math.isnan(none["pi11"])
    last = christoffersen_independence([0] * 19 + [1])  # an event with nothing after it
    assert last["n10"] + last["n11"] == 0 and math.isnan(last["pi11"])
    assert last["lr"] == 0.0


def test_after_event_coverage_takes_the_days_after_an_event():
    p, y = [0.5, 0.2, 0.3, 0.4], [1, 0, 1, 1]
    out = after_event_coverage(p, y)  # the days after day 0 and day 2: days 1 and 3
    assert out["days"] == 2 and out["observed"] == 1
    assert out["expected"] == pytest.approx(0.6)
    assert out == {"days": 2, **coverage_test([0.2, 0.4], [0, 1])}
    quiet = after_event_coverage([0.1, 0.1], [0, 1])
    assert quiet["days"] == 0 and quiet["p_value"] == 1.0


def test_reliability_bins_by_hand():
    p = [0.1] * 4 + [0.3] * 4 + [0.6] * 2
    y = [0, 0, 0, 1] + [1, 0, 1, 0] + [1, 1]
    rows = reliability_table(p, y, bins=2)  # the median, 0.3, is the one edge
    assert [r["days"] for r in rows] == [4, 6]
    first, second = rows
    assert (first["low"], first["high"], first["mean_predicted"]) == (0.1, 0.1, 0.1)
    assert (first["events"], first["realised"]) == (1, 0.25)
    assert second["mean_predicted"] == pytest.approx((4 * 0.3 + 2 * 0.6) / 6)
    assert (second["events"], second["realised"]) == (4, 4 / 6)
    assert second["ci"][0] < 4 / 6 < second["ci"][1]


def test_reliability_deciles_keep_ties_and_count_every_day():
    rng = np.random.default_rng(3)
    p = rng.random(1000)
    y = (rng.random(1000) < p).astype(int)
    rows = reliability_table(p, y)
    assert len(rows) == 10 and sum(r["days"] for r in rows) == 1000
    assert all(a["high"] < b["low"] for a, b in zip(rows, rows[1:], strict=False))
    constant = reliability_table(np.full(50, 0.2), y[:50])
    assert len(constant) == 1 and constant[0]["days"] == 50


def test_forecast_checks_puts_it_together():
    p, y = np.array([0.1, 0.2, 0.3, 0.4]), np.array([0, 0, 1, 0])
    out = forecast_checks(p, y, np.full(4, 0.25))
    assert out["mean_predicted"] == pytest.approx(0.25) and out["ratio"] == pytest.approx(1.0)
    assert out["brier_reference"] == pytest.approx(brier_score([0.25] * 4, y))
    assert out["brier_skill"] == pytest.approx(1 - out["brier"] / out["brier_reference"])
    assert forecast_checks([0.1, 0.1], [0, 0], [0.1, 0.1])["ratio"] == math.inf


@pytest.mark.parametrize(
    ("p", "y"), [([0.1], [0, 1]), ([1.2], [1]), ([0.5], [2]), ([], []), ([np.nan], [0])]
)
def test_bad_forecasts_are_refused(p, y):
    with pytest.raises(ValueError):
        brier_score(p, y)


def test_the_upper_tail_is_reported_apart_from_the_doubled_tails():
    # a constant 1 % forecast over 728 days and 13 events: the doubled smaller tail is lenient
    # on the side of too many events; P(K >= 13) is the one-sided answer (binomial, exact)
    from math import comb

    p, k, n = 0.01, 13, 728
    upper = sum(comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(k, n + 1))
    out = coverage_test(np.full(n, p), np.r_[np.ones(k), np.zeros(n - k)])
    assert out["p_value_upper"] == pytest.approx(upper, rel=1e-9)
    assert out["p_value"] == pytest.approx(min(1.0, 2 * upper), rel=1e-9)
    assert out["p_value_upper"] < 0.04 < out["p_value"]
