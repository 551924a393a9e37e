"""Per-book metrics (stress.analysis.metrics): Wilson interval, VaR/ES, time to liquidation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stress.analysis.metrics import (
    Z95,
    book_metrics,
    expected_shortfall,
    flat_metrics,
    paired_difference,
    position_probabilities,
    value_at_risk,
    wilson_interval,
)

SPEC_KEYS = {
    "p_liquidation",
    "p_liquidation_ci",
    "p_liquidation_se",
    "p_ruin",
    "expected_loss",
    "var_95",
    "var_99",
    "var_999",
    "es_95",
    "es_99",
    "es_999",
    "bad_debt_mean",
    "bad_debt_max",
    "time_to_liquidation_hours",
}


# --- Wilson -------------------------------------------------------------------------------


def test_wilson_by_hand():
    # k = 12, n = 100, z = 1.959964: p = 0.12, z^2 = 3.841459
    # centre = (0.12 + 3.841459 / 200) / (1 + 3.841459 / 100) = 0.1392073 / 1.0384146 = 0.1340575
    # half   = z * sqrt(0.12 * 0.88 / 100 + 3.841459 / 40000) / 1.0384146
    #        = 1.959964 * sqrt(0.001152036) / 1.0384146 = 0.0640634
    # => (0.0699941, 0.1981210); the textbook table value is (0.0700, 0.1981).
    lo, hi = wilson_interval(12, 100)
    assert lo == pytest.approx(0.0699941, rel=1e-5)
    assert hi == pytest.approx(0.1981210, rel=1e-5)
    z2 = Z95**2
    centre = (0.12 + z2 / 200) / (1 + z2 / 100)
    half = Z95 * math.sqrt(0.12 * 0.88 / 100 + z2 / 40_000) / (1 + z2 / 100)
    assert (lo, hi) == pytest.approx((centre - half, centre + half), rel=1e-12)


def test_wilson_edges():
    # k = 0: lo = 0 and hi = z^2 / (n + z^2) = 3.841459 / 103.841459 = 0.0369935
    assert wilson_interval(0, 100) == (0.0, pytest.approx(Z95**2 / (100 + Z95**2), rel=1e-12))
    # k = n: lo = n / (n + z^2) = 0.9630065, hi = 1
    assert wilson_interval(100, 100) == (pytest.approx(100 / (100 + Z95**2), rel=1e-12), 1.0)
    assert wilson_interval(0, 1)[0] == 0.0 and wilson_interval(1, 1)[1] == 1.0
    for bad in [(1, 0), (-1, 5), (6, 5)]:
        with pytest.raises(ValueError):
            wilson_interval(*bad)


@given(n=st.integers(1, 10_000), frac=st.floats(0, 1))
def test_wilson_contains_the_estimate(n, frac):
    k = round(frac * n)
    lo, hi = wilson_interval(k, n)
    assert 0.0 <= lo <= k / n <= hi <= 1.0


# --- VaR / ES -----------------------------------------------------------------------------


@pytest.fixture
def one_to_thousand():
    x = np.arange(1.0, 1001.0)
    np.random.default_rng(0).shuffle(x)
    return x


def test_var_es_on_one_to_thousand(one_to_thousand):
    x = one_to_thousand
    # VaR_a is the ceil(a n)-th smallest loss: 950th, 990th, 999th.
    assert value_at_risk(x, 0.95) == 950.0
    assert value_at_risk(x, 0.99) == 990.0
    assert value_at_risk(x, 0.999) == 999.0
    # ES_a averages the worst ceil((1 - a) n) = 50, 10, 1 losses:
    # mean(951..1000) = 975.5, mean(991..1000) = 995.5, 1000.
    assert expected_shortfall(x, 0.95) == 975.5
    assert expected_shortfall(x, 0.99) == 995.5
    assert expected_shortfall(x, 0.999) == 1000.0


def test_var_is_numpys_inverted_cdf_quantile():
    x = np.random.default_rng(3).standard_normal(20_000)
    for a in (0.95, 0.99, 0.999):
        assert value_at_risk(x, a) == np.quantile(x, a, method="inverted_cdf")


def test_few_paths_use_the_worst():
    x = np.array([3.0, -1.0, 7.0, 2.0])
    # (1 - 0.999) * 4 < 1 path: ES is the single worst loss; VaR is the ceil(3.996) = 4th.
    assert expected_shortfall(x, 0.999) == 7.0
    assert value_at_risk(x, 0.999) == 7.0
    # a = 0.5: VaR = 2nd smallest = 2; ES = mean of the worst 2 = (3 + 7) / 2.
    assert value_at_risk(x, 0.5) == 2.0
    assert expected_shortfall(x, 0.5) == 5.0


def test_level_and_input_checks():
    for a in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError):
            value_at_risk(np.ones(3), a)
    with pytest.raises(ValueError):
        expected_shortfall(np.array([]), 0.9)


@settings(max_examples=300, deadline=None)
@given(
    loss=st.lists(st.floats(-1e9, 1e9), min_size=1, max_size=400),
    a=st.one_of(st.sampled_from([0.95, 0.99, 0.999]), st.floats(1e-6, 1 - 1e-6)),
)
def test_es_is_at_least_var(loss, a):
    x = np.array(loss)
    var, es = value_at_risk(x, a), expected_shortfall(x, a)
    assert es >= var
    assert x.min() <= var <= x.max()
    assert es <= x.max()


# --- book metrics -------------------------------------------------------------------------


def make_book(n=8):
    loss = np.array([100.0, -50.0, 2_000.0, 0.0, 9_950.0, 300.0, 10_000.0, 20.0])[:n]
    steps = np.array([-1, -1, 12, -1, 24, -1, 60, -1])[:n]
    bad = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 150.0, 0.0])[:n]
    final = 10_000.0 - loss + 0.0
    return loss, steps, bad, final


def test_book_metrics_values():
    loss, steps, bad, final = make_book()
    m = book_metrics(loss, steps, bad, final, initial_wallet=10_000.0, step_hours=1 / 12)
    assert set(m) == SPEC_KEYS
    assert m["p_liquidation"] == 3 / 8
    assert m["p_liquidation_ci"] == list(wilson_interval(3, 8))
    assert m["p_liquidation_se"] == pytest.approx(math.sqrt(3 / 8 * 5 / 8 / 8))
    # Final equities 50 (0.5 % of the wallet) and 0 are ruined; 7,700 and up are not.
    assert m["p_ruin"] == 2 / 8
    assert m["expected_loss"] == pytest.approx(loss.mean())
    assert m["var_95"] == 10_000.0 and m["es_999"] == 10_000.0
    assert m["bad_debt_mean"] == pytest.approx(150 / 8) and m["bad_debt_max"] == 150.0
    # Liquidations at steps 12, 24, 60 of 5-minute steps: 1, 2, 5 hours.
    # Linear interpolation: p10 at position 0.2 -> 1.2, p50 -> 2, p90 at 1.8 -> 2 + 0.8 * 3 = 4.4.
    ttl = m["time_to_liquidation_hours"]
    assert ttl == pytest.approx({"p10": 1.2, "p50": 2.0, "p90": 4.4})


def test_ruin_threshold_is_one_percent_inclusive():
    n = 4
    loss = np.zeros(n)
    steps = np.full(n, -1)
    final = np.array([100.0, np.nextafter(100.0, np.inf), 0.0, 5_000.0])
    m = book_metrics(loss, steps, np.zeros(n), final, initial_wallet=10_000.0, step_hours=1.0)
    assert m["p_ruin"] == 2 / 4  # exactly 1 % and 0 are ruined, just above 1 % is not


def test_no_liquidation_gives_null_time():
    n = 50
    m = book_metrics(np.zeros(n), np.full(n, -1), np.zeros(n), np.ones(n), 1.0, 0.5)
    assert m["time_to_liquidation_hours"] is None
    assert m["p_liquidation"] == 0.0 and m["p_liquidation_ci"][0] == 0.0
    assert m["p_liquidation_se"] == 0.0


def test_liquidation_at_step_zero_is_zero_hours():
    m = book_metrics(np.ones(2), np.array([0, 0]), np.zeros(2), np.zeros(2), 1.0, 0.25)
    assert m["time_to_liquidation_hours"] == {"p10": 0.0, "p50": 0.0, "p90": 0.0}
    assert m["p_liquidation_ci"][1] == 1.0


def _plain(obj) -> bool:
    if isinstance(obj, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in obj.items())
    if isinstance(obj, list):
        return all(_plain(v) for v in obj)
    return obj is None or type(obj) is float


@pytest.mark.parametrize("liquidating", [True, False])
def test_everything_is_plain_json(liquidating):
    rng = np.random.default_rng(1)
    n = 1_000
    steps = rng.integers(-1, 300, n) if liquidating else np.full(n, -1, dtype=np.int32)
    m = book_metrics(
        rng.normal(0, 1_000, n).astype(np.float32),  # any float dtype in, Python floats out
        steps,
        rng.exponential(1.0, n) * (steps >= 0),
        rng.normal(10_000, 1_000, n),
        np.float64(10_000.0),
        np.float64(1 / 12),
    )
    assert _plain(m)
    assert json.loads(json.dumps(m, allow_nan=False)) == m
    flat = flat_metrics(m)
    assert json.loads(json.dumps(flat, allow_nan=False)) == flat
    assert all(v is None or type(v) is float for v in flat.values())


def test_flat_metrics_columns():
    loss, steps, bad, final = make_book()
    m = book_metrics(loss, steps, bad, final, 10_000.0, 1 / 12)
    flat = flat_metrics(m)
    assert flat["p_liquidation_ci_lo"] == m["p_liquidation_ci"][0]
    assert flat["ttl_hours_p90"] == m["time_to_liquidation_hours"]["p90"]
    assert "p_liquidation_ci" not in flat and "time_to_liquidation_hours" not in flat
    none = flat_metrics(book_metrics(np.zeros(3), np.full(3, -1), np.zeros(3), np.ones(3), 1, 1))
    assert none["ttl_hours_p50"] is None


def test_book_metrics_rejects_mismatched_arrays():
    with pytest.raises(ValueError, match="equal length"):
        book_metrics(np.zeros(3), np.zeros(2, dtype=int), np.zeros(3), np.zeros(3), 1.0, 1.0)
    with pytest.raises(ValueError):
        book_metrics(np.zeros(0), np.zeros(0, dtype=int), np.zeros(0), np.zeros(0), 1.0, 1.0)


# --- positions and paired comparisons -----------------------------------------------------


def test_position_probabilities():
    flags = np.array([[True, False], [True, True], [False, False], [False, False]])
    np.testing.assert_array_equal(position_probabilities(flags), [0.5, 0.25])
    with pytest.raises(ValueError):
        position_probabilities(np.array([True, False]))


def test_paired_difference_by_hand():
    # d = [1, 0, 0, 1]: mean 0.5, sample sd sqrt(4 * 0.25 / 3) = 0.57735, se = 0.57735 / 2.
    a = np.array([True, False, True, True])
    b = np.array([False, False, True, False])
    d = paired_difference(a, b)
    assert d["mean"] == 0.5 and d["n"] == 4
    assert d["se"] == pytest.approx(math.sqrt(1 / 3) / 2)
    assert d["ci"] == pytest.approx([0.5 - Z95 * d["se"], 0.5 + Z95 * d["se"]])
    assert json.loads(json.dumps(d)) == d
    one = paired_difference(np.array([2.0]), np.array([1.0]))
    assert one == {"mean": 1.0, "se": None, "ci": None, "n": 1}


@pytest.mark.parametrize("n", [2, 3, 17, 1000, 4097])
def test_paired_difference_is_numpys_mean_and_std_to_the_bit(n):
    rng = np.random.default_rng(n)
    for _ in range(50):
        a = rng.standard_normal(n) * rng.uniform(1.0, 1e5)
        b = (rng.random(n) < 0.3) * rng.uniform(0.0, 1e4)
        d = paired_difference(a, b)
        assert d["mean"] == float((a - b).mean())
        assert d["se"] == float((a - b).std(ddof=1) / math.sqrt(n))


def test_paired_difference_beats_independent_se_on_shared_paths():
    # Two modes that agree on most paths: the paired SE is well below the unpaired one.
    rng = np.random.default_rng(7)
    n = 10_000
    a = rng.random(n) < 0.2
    b = a | (rng.random(n) < 0.01)
    d = paired_difference(b, a)
    pa, pb = a.mean(), b.mean()
    unpaired = math.sqrt(pa * (1 - pa) / n + pb * (1 - pb) / n)
    assert d["se"] < unpaired / 3
    assert d["mean"] == pytest.approx(pb - pa)
