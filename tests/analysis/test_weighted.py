"""Weighted estimators against hand-computed values, and against the plain ones at weight 1."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stress.analysis import weighted as W
from stress.analysis.metrics import book_metrics, expected_shortfall, value_at_risk


def test_probability_by_hand():
    flags = np.array([1, 0, 1, 0], dtype=bool)
    w = np.array([0.5, 2.0, 0.1, 1.0])
    got = W.weighted_probability(flags, w)
    y = np.array([0.5, 0.0, 0.1, 0.0])
    assert got["p"] == pytest.approx(0.15)
    se = math.sqrt(((y - 0.15) ** 2).sum() / 3 / 4)
    assert got["se"] == pytest.approx(se)
    assert got["ci"] == pytest.approx([max(0.0, 0.15 - W.Z95 * se), 0.15 + W.Z95 * se])
    assert got["ci"][0] == 0.0  # clipped at 0


def test_var_and_es_by_hand():
    loss = np.array([10.0, 0.0, 5.0, 7.0])
    w = np.array([0.2, 2.0, 1.0, 0.8])  # masses /4: 0.05, 0.5, 0.25, 0.2
    # tail strictly above: 10 -> 0, 7 -> 0.05, 5 -> 0.25, 0 -> 0.5
    assert W.weighted_var(loss, w, 0.96) == 10.0
    assert W.weighted_var(loss, w, 0.95) == 7.0  # P(L > 7) = 0.05 <= 1 - a
    assert W.weighted_es(loss, w, 0.95) == pytest.approx(10.0)
    assert W.weighted_var(loss, w, 0.9) == 7.0
    assert W.weighted_var(loss, w, 0.75) == 5.0
    # ES90: 0.05 at 10, the missing 0.05 at VaR 7 -> (0.5 + 0.35) / 0.1
    assert W.weighted_es(loss, w, 0.9) == pytest.approx(8.5)
    # ES75: 0.05 at 10, 0.2 at 7 -> 0.25 exactly, VaR 5 takes nothing
    assert W.weighted_es(loss, w, 0.75) == pytest.approx((0.5 + 1.4) / 0.25)


@pytest.mark.parametrize("n", [1, 7, 100, 1000, 1001])
@pytest.mark.parametrize("a", [0.95, 0.99, 0.999])
def test_weight_one_gives_the_plain_var_and_es(n, a):
    loss = np.random.default_rng(n).normal(size=n)
    ones = np.ones(n)
    assert W.weighted_var(loss, ones, a) == value_at_risk(loss, a)
    es = W.weighted_es(loss, ones, a)
    tail = (1 - a) * n
    if abs(tail - round(tail)) < 1e-9 and tail >= 1:  # whole paths: the same paths averaged
        assert es == pytest.approx(expected_shortfall(loss, a), rel=1e-12)
    else:  # the weighted ES takes the path at VaR for the fraction missing, not whole
        assert value_at_risk(loss, a) <= es <= max(loss)


def test_quantiles_by_hand():
    got = W.weighted_quantiles(
        np.array([3.0, 1.0, 2.0]), np.array([1.0, 1.0, 2.0]), {"a": 0.25, "b": 0.5, "c": 0.9}
    )
    assert got == {"a": 1.0, "b": 2.0, "c": 3.0}
    assert W.weighted_quantiles(np.array([]), np.array([]), {"a": 0.5}) is None


def test_book_metrics_weighted_by_one_agree_with_the_plain_ones():
    rng = np.random.default_rng(2)
    n = 2000
    steps = np.where(rng.random(n) < 0.1, rng.integers(0, 50, n), -1)
    loss = rng.normal(size=n) * 100
    arrays = dict(
        loss=loss,
        first_liq_step=steps,
        bad_debt=np.abs(rng.normal(size=n)),
        final_equity=1000 - loss,
        initial_wallet=1000.0,
        step_hours=0.25,
        fees_paid=np.abs(rng.normal(size=n)),
    )
    plain = book_metrics(**arrays)
    weighted = book_metrics(**arrays, weights=np.ones(n))
    se = plain["p_liquidation_se"] * math.sqrt(n / (n - 1))  # the sample std, ddof=1
    assert weighted["p_liquidation_se"] == pytest.approx(se, rel=1e-9)
    for key in ("p_liquidation", "p_ruin", "expected_loss", "var_99",
                "es_99", "bad_debt_mean", "bad_debt_max", "fees_paid_mean"):  # fmt: skip
        assert weighted[key] == pytest.approx(plain[key], rel=1e-9, abs=1e-12), key
    assert weighted["p_liquidation_interval"] == "normal"
    assert "p_liquidation_interval" not in plain


def test_weighted_es_standard_error_matches_its_spread():
    # losses from a defensive mixture of N(0, 1) and N(2.3, 1): the SE read from the weighted
    # influence function must match the spread of the weighted ES over replications (weighting
    # the constants too overstated it by half)
    from stress.analysis.paired import es_influence
    from stress.analysis.weighted import weighted_es, weighted_var

    rng = np.random.default_rng(11)
    n, alpha, shift = 4000, 0.25, 2.3
    estimates, ses = [], []
    for _ in range(300):
        from_p = np.arange(n) < alpha * n
        x = rng.standard_normal(n) + np.where(from_p, 0.0, shift)
        ratio_q_p = np.exp(shift * x - 0.5 * shift**2)
        w = 1.0 / (alpha + (1.0 - alpha) * ratio_q_p)
        var, es = weighted_var(x, w, 0.99), weighted_es(x, w, 0.99)
        estimates.append(es)
        ses.append(float(np.std(es_influence(x, var, es, weights=w), ddof=1) / np.sqrt(n)))
    spread = float(np.std(estimates, ddof=1))
    assert 0.8 < np.mean(ses) / spread < 1.25
    assert abs(np.mean(estimates) - 2.6652) < 4 * spread / np.sqrt(300)  # ES99 of N(0, 1)


def test_no_event_path_gives_wilsons_upper_end_for_the_plain_paths():
    from stress.analysis.weighted import weighted_probability

    w = np.full(1000, 0.5)
    none = weighted_probability(np.zeros(1000, dtype=bool), w, p_paths=250)
    z2 = 1.959963984540054**2
    assert none["p"] == 0.0 and none["ci"] == [0.0, z2 / (250 + z2)]
    assert weighted_probability(np.zeros(1000, dtype=bool), w)["ci"] == [0.0, 0.0]
    some = np.zeros(1000, dtype=bool)
    some[3] = True
    assert weighted_probability(some, w, p_paths=250)["ci"][0] == 0.0  # normal interval kept
    assert weighted_probability(some, w, p_paths=250)["ci"][1] < z2 / (250 + z2)
