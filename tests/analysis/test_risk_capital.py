"""The pick within a risk capital: the safest arrangement whose ES99 the trader can afford."""

from __future__ import annotations

import numpy as np
from support.fake_outcomes import fake_run

from stress.analysis.paired import paired_books
from stress.analysis.risk_capital import pick_within_risk_capital

N = 4_000


def _base(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 100, N)


def test_the_safer_book_that_does_not_fit_loses_to_the_one_that_does():
    base = _base(1)
    # isolated caps its loss at 150 but liquidates often; cross rarely liquidates, but its
    # tail is the whole normal tail (ES99 about 267)
    fake = fake_run(
        {"isolated": np.minimum(base, 150.0), "cross": base},
        {"isolated": base >= 150.0, "cross": base > 280.0},
    )
    es = {m["es_99"] for m in fake.metrics}
    assert max(es) > 200.0 > min(es)  # the risk capital below lies between them
    pick = pick_within_risk_capital(fake, [0, 1], risk_capital=200.0)
    assert pick.best == 0 and pick.fits == [0] and pick.tied == [0]
    # with room for cross's tail, the lower liquidation probability wins
    assert fake.metrics[1]["p_liquidation"] < fake.metrics[0]["p_liquidation"]
    roomy = pick_within_risk_capital(fake, [0, 1], risk_capital=1_000.0)
    assert roomy.best == 1 and roomy.fits == [0, 1] and roomy.tied == [1]


def test_nothing_fits():
    base = _base(2)
    fake = fake_run(
        {"isolated": base, "cross": base + 5}, {"isolated": base > 0, "cross": base > 1}
    )
    pick = pick_within_risk_capital(fake, [0, 1], risk_capital=10.0)
    assert pick == (None, [], [])


def test_liquidation_probabilities_within_noise_are_tied_and_go_to_the_lower_expected_loss():
    base = _base(3)
    liq = base > 150
    # b is liquidated on two more paths than a (not distinguishable: the paired difference is
    # 2 / N with a standard error of about sqrt(2) / N), and loses 10 less on every path
    extra = np.flatnonzero(~liq)[:2]
    liq_b = liq.copy()
    liq_b[extra] = True
    fake = fake_run({"a": base, "b": base - 10.0}, {"a": liq, "b": liq_b})
    c = paired_books(fake, 1, fake, 0, "p_liquidation")
    assert abs(c["difference"] - 2 / N) < 1e-12 and not c["distinguishable"]
    pick = pick_within_risk_capital(fake, [0, 1], risk_capital=1_000.0)
    assert pick.tied == [0, 1] and pick.best == 1  # b: higher p_liq, within noise; lower loss
    # fifty more paths are distinguishable: then the lower liquidation probability wins alone
    liq_c = liq.copy()
    liq_c[np.flatnonzero(~liq)[:50]] = True
    far = fake_run({"a": base, "c": base - 10.0}, {"a": liq, "c": liq_c})
    assert paired_books(far, 1, far, 0, "p_liquidation")["distinguishable"]
    pick = pick_within_risk_capital(far, [0, 1], risk_capital=1_000.0)
    assert pick.tied == [0] and pick.best == 0


def test_a_ruin_ceiling_excludes_books_that_ruin_too_often():
    base = _base(4)
    # loss 1,000 = the whole wallet: ruin on the paths above 150
    ruinous = np.where(base > 150, 1_000.0, base)
    fake = fake_run(
        {"cross": ruinous, "isolated": np.minimum(base, 150.0)},
        {"cross": base > 150, "isolated": base > 100},
    )
    assert fake.metrics[0]["p_ruin"] > 0.05 and fake.metrics[1]["p_ruin"] == 0.0
    assert pick_within_risk_capital(fake, [0, 1], 1_000.0).best == 0
    capped = pick_within_risk_capital(fake, [0, 1], 1_000.0, max_p_ruin=0.01)
    assert capped.best == 1 and capped.fits == [1]


def test_books_of_different_portfolios_on_the_same_paths_are_compared():
    base = _base(5)
    fake = fake_run(
        {
            (0, "isolated"): np.minimum(base, 150.0),
            (0, "cross"): base,
            (1, "isolated"): np.minimum(0.5 * base, 75.0),
            (1, "cross"): 0.5 * base,
        },
        {
            (0, "isolated"): base >= 150,
            (0, "cross"): base > 280,
            (1, "isolated"): base >= 150,
            (1, "cross"): base > 560,  # never: the half-size portfolio in cross
        },
    )
    cache: dict = {}
    pick = pick_within_risk_capital(fake, [0, 1, 2, 3], risk_capital=200.0, cache=cache)
    assert pick.fits == [0, 2, 3] and pick.best == 3
    assert cache  # per-path arrays kept for the next call
