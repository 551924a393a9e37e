"""The recommendation: paired statistics and the ranking rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import ROOT
from support.factories import two_asset_config
from support.fake_outcomes import fake_run

import stress
from stress.analysis.metrics import expected_shortfall, value_at_risk
from stress.analysis.verdict import compare_books, es_influence, portfolio_verdict
from stress.pipeline.prepare import check_overrides


def test_es_influence_function_gives_the_sampling_error_of_es():
    rng = np.random.default_rng(3)
    n, reps = 5_000, 300
    estimates, ses = [], []
    for _ in range(reps):
        loss = rng.standard_normal(n)
        var, es = value_at_risk(loss, 0.99), expected_shortfall(loss, 0.99)
        estimates.append(es)
        ses.append(es_influence(loss, var, es).std(ddof=1) / math.sqrt(n))
    spread = np.std(estimates, ddof=1)
    # the sample sd of `reps` estimates is itself uncertain by about spread / sqrt(2 reps)
    assert abs(np.mean(ses) - spread) < 4 * spread / math.sqrt(2 * reps)


def test_a_dominant_mode_wins_every_metric():
    rng = np.random.default_rng(1)
    base = rng.normal(0, 100, 4_000)
    liq = base > 150
    fake = fake_run(
        {"isolated": base + 50, "cross": base, "as_configured": base + 20},
        {"isolated": base > 100, "cross": liq, "as_configured": base > 120},
    )
    v = portfolio_verdict(fake, 0, objective="es_99")
    assert v["recommended"] == "cross"
    assert v["headline"].startswith("Choose cross: it has the smallest tail loss")
    assert v["winners"]["es_99"] == ["cross"]
    assert v["winners"]["p_liquidation"] == ["cross"]
    assert v["tradeoff"] is None  # nothing is safer from liquidation than the recommendation
    assert all(c["distinguishable"] for c in v["comparisons"] if c["metric"] == "expected_loss")


def test_ties_within_noise_go_to_the_lower_liquidation_probability():
    rng = np.random.default_rng(2)
    base = rng.normal(0, 100, 4_000)
    noise = rng.normal(0, 1e-3, 4_000)  # ES99 differs by noise only
    fake = fake_run(
        {"isolated": base, "cross": base + noise},
        {"isolated": base > 50, "cross": base > 150},
    )
    v = portfolio_verdict(fake, 0, objective="es_99")
    assert set(v["winners"]["es_99"]) == {"isolated", "cross"}
    assert v["recommended"] == "cross"
    assert v["winners"]["p_liquidation"] == ["cross"]
    # the headline names the criterion that decided, not a tail advantage that is only noise
    assert "within statistical noise of" in v["headline"]
    assert "the lowest liquidation probability" in v["headline"]


def test_objective_changes_the_recommendation_and_tradeoff_names_the_cost():
    rng = np.random.default_rng(4)
    base = rng.normal(0, 100, 6_000)
    fake = fake_run(
        {"isolated": np.minimum(base, 150.0), "cross": base},  # isolated caps the loss
        {"isolated": base >= 150.0, "cross": base > 280.0},
    )
    tail = portfolio_verdict(fake, 0, objective="es_99")
    assert tail["recommended"] == "isolated"
    assert "cross cuts the liquidation probability" in tail["tradeoff"]
    assert "raises ES99" in tail["tradeoff"]
    safe = portfolio_verdict(fake, 0, objective="p_liquidation")
    assert safe["recommended"] == "cross"
    # an unknown objective is refused once, with the run's other settings, before any work
    with pytest.raises(stress.ConfigError, match="^objective: expected one of es_99"):
        check_overrides(objective="sharpe")


def test_paired_difference_of_identical_books_is_exactly_zero():
    # with every position forced into cross, as_configured is the same book as cross
    cfg = two_asset_config(modes=["cross", "as_configured"])
    for p in cfg["positions"]:
        p["margin_mode"] = "cross"
        p.pop("margin", None)
    res = stress.run(cfg, paths=512)
    for metric in ("p_liquidation", "es_99", "expected_loss"):
        c = compare_books(res, 0, 1, metric)
        assert c["difference"] == 0.0 and c["ci"] == [0.0, 0.0] and not c["distinguishable"]


def _capped_or_rare(seed: int, risk_capital: float | None):
    """isolated caps its loss at 150 and liquidates often; cross rarely, with the whole tail."""
    base = np.random.default_rng(seed).normal(0, 100, 6_000)
    return fake_run(
        {"isolated": np.minimum(base, 150.0), "cross": base},
        {"isolated": base >= 150.0, "cross": base > 280.0},
        risk_capital=risk_capital,
        margin=75.0,  # two legs of 75: the 150 isolated can lose
    )


def test_without_risk_capital_or_objective_there_is_no_pick_but_a_sentence_per_mode():
    v = portfolio_verdict(_capped_or_rare(4, None), 0)
    assert v["recommended"] is None and v["decided_by"] is None and v["objective"] is None
    head = v["headline"]
    assert head.startswith("No single pick without a risk capital.")
    assert head.endswith("for a recommendation: the mode with the lowest liquidation probability "
                         "whose ES99 stays within it.")  # fmt: skip
    assert "Set account.risk_capital" in head
    # one sentence per mode, each naming its liquidation probability
    for mode in ("isolated", "cross"):
        assert head.count(f". {mode}: ") == 1
    assert "isolated: a position is liquidated on" in head
    assert "losses are capped at the 150 USDT posted as margin (ES99 150 USDT)" in head
    assert "cross: liquidated on" in head
    assert v["rule"].startswith("No rule decided")
    # the comparisons still hold every paired difference (of the first mode)
    assert {c["versus"] for c in v["comparisons"]} == {"cross"}


def test_risk_capital_picks_the_lowest_liquidation_probability_that_fits():
    fake = _capped_or_rare(4, 200.0)
    es = {fake.layout.books[k].mode: m["es_99"] for k, m in enumerate(fake.metrics)}
    assert es["isolated"] <= 200.0 < es["cross"]
    v = portfolio_verdict(fake, 0)
    assert v["decided_by"] == "risk_capital" and v["recommended"] == "isolated"
    assert v["within_risk_capital"] == ["isolated"] and v["risk_capital"] == 200.0
    assert v["headline"].startswith("Choose isolated: it is the only mode whose ES99")
    assert "beyond the risk capital of 200 USDT" in v["tradeoff"]
    assert v["rule"].startswith("Decided by the risk capital")
    roomy = portfolio_verdict(_capped_or_rare(4, 1_000.0), 0)
    assert roomy["recommended"] == "cross"
    assert roomy["tradeoff"].startswith("Trade-off: isolated lowers ES99 from")
    assert "it has the lowest liquidation probability" in roomy["headline"]
    # an explicit objective overrides the risk capital, as before it existed
    tail = portfolio_verdict(_capped_or_rare(4, 1_000.0), 0, objective="es_99")
    assert tail["decided_by"] == "objective" and tail["recommended"] == "isolated"


def test_no_mode_fits_the_risk_capital():
    v = portfolio_verdict(_capped_or_rare(4, 50.0), 0)
    assert v["decided_by"] == "risk_capital" and v["recommended"] is None
    assert v["within_risk_capital"] == [] and v["fit"] is None  # the search is the pipeline's
    assert v["headline"].startswith("No mode fits the risk capital of 50 USDT: ES99 is")
    assert v["tradeoff"].startswith("isolated: ") and ". cross: " in v["tradeoff"]


def test_example_verdict_matches_its_metrics():
    # the shipped hedge sets a risk capital: the rule that decides is said
    res = stress.run(ROOT / "configs" / "btc_eth_hedge.yaml", paths=3_000)
    data = res.to_dict()["portfolios"][0]
    v = data["verdict"]
    assert v["decided_by"] == "risk_capital"
    rec = v["recommended"]
    assert rec in data["modes"] and rec in v["within_risk_capital"]
    assert data["modes"][rec]["es_99"] <= v["risk_capital"]
    p_rec = data["modes"][rec]["p_liquidation"]
    assert f"the lowest liquidation probability, {100 * p_rec:.1f} %" in v["headline"]
    for c in v["comparisons"]:
        assert c["mode"] == rec and c["versus"] != rec
        want = data["modes"][rec][c["metric"]] - data["modes"][c["versus"]][c["metric"]]
        assert c["difference"] == pytest.approx(want, abs=1e-9)
        lo, hi = c["ci"]
        assert lo <= c["difference"] <= hi


def test_an_explicit_objective_gives_the_verdict_of_before():
    res = stress.run(ROOT / "configs" / "btc_eth_hedge.yaml", paths=3_000, objective="es_99")
    v = res.verdicts[0]
    assert v["decided_by"] == "objective" and v["objective"] == "es_99"
    assert v["headline"] == (
        "Choose isolated: it has the smallest tail loss (ES99, the mean loss in the worst 1 % "
        "of paths), 6,000 USDT against 10,000 USDT in cross and 10,000 USDT in as_configured."
    )
    assert v["tradeoff"].startswith("Trade-off: cross cuts the liquidation probability")
    assert v["rule"].startswith("The recommended mode has the best ES99;")


def test_verdict_text_keeps_rare_probabilities_readable():
    from stress.analysis.verdict_text import fmt

    assert fmt("p_liquidation", 0.018) == "1.8 %"
    assert fmt("p_liquidation", 0.0) == "0.0 %"
    assert fmt("p_liquidation", 1.058e-5) == "0.0011 %"
    assert fmt("p_ruin", 0.0005) == "0.1 %"  # one decimal from 0.05 % up
