"""The recommendation: paired statistics and the ranking rule."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import ROOT
from support.factories import two_asset_config

import stress
from stress.analysis.metrics import book_metrics, expected_shortfall, value_at_risk
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


class _Results(SimpleNamespace):
    def loss(self, layout):
        return layout.book_initial_equity[None, :] - self.final_equity


def _fake_run(losses: dict[str, np.ndarray], liq: dict[str, np.ndarray], wallet=1_000.0):
    """A RunResult stand-in: one portfolio, the given per-path losses and liquidations."""
    modes = list(losses)
    final = np.stack([wallet - losses[m] for m in modes], axis=1)
    steps = np.stack([np.where(liq[m], 1, -1) for m in modes], axis=1)
    bad = np.zeros_like(final)
    layout = SimpleNamespace(
        books=[SimpleNamespace(portfolio=0, mode=m) for m in modes],
        book_initial_equity=np.full(len(modes), wallet),
    )
    res = SimpleNamespace(
        layout=layout,
        results=_Results(final_equity=final, first_liq_step=steps, bad_debt=bad),
        portfolios=[SimpleNamespace(name="p", wallet=wallet)],
        paths=final.shape[0],
        books_of=lambda k: [j for j, b in enumerate(layout.books) if b.portfolio == k],
    )
    res.metrics = [
        book_metrics(
            loss=losses[m],
            first_liq_step=steps[:, k],
            bad_debt=bad[:, k],
            final_equity=final[:, k],
            initial_wallet=wallet,
            step_hours=1.0,
        )
        for k, m in enumerate(modes)
    ]
    return res


def test_a_dominant_mode_wins_every_metric():
    rng = np.random.default_rng(1)
    base = rng.normal(0, 100, 4_000)
    liq = base > 150
    fake = _fake_run(
        {"isolated": base + 50, "cross": base, "as_configured": base + 20},
        {"isolated": base > 100, "cross": liq, "as_configured": base > 120},
    )
    v = portfolio_verdict(fake, 0)
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
    fake = _fake_run(
        {"isolated": base, "cross": base + noise},
        {"isolated": base > 50, "cross": base > 150},
    )
    v = portfolio_verdict(fake, 0)
    assert set(v["winners"]["es_99"]) == {"isolated", "cross"}
    assert v["recommended"] == "cross"
    assert v["winners"]["p_liquidation"] == ["cross"]
    # the headline names the criterion that decided, not a tail advantage that is only noise
    assert "within statistical noise of" in v["headline"]
    assert "the lowest liquidation probability" in v["headline"]


def test_objective_changes_the_recommendation_and_tradeoff_names_the_cost():
    rng = np.random.default_rng(4)
    base = rng.normal(0, 100, 6_000)
    fake = _fake_run(
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


def test_example_verdict_matches_its_metrics():
    res = stress.run(ROOT / "configs" / "btc_eth_hedge.yaml", paths=3_000)
    data = res.to_dict()["portfolios"][0]
    v = data["verdict"]
    rec = v["recommended"]
    assert rec in data["modes"]
    es = data["modes"][rec]["es_99"]
    assert f"{es:,.0f} USDT" in v["headline"]
    for c in v["comparisons"]:
        assert c["mode"] == rec and c["versus"] != rec
        want = data["modes"][rec][c["metric"]] - data["modes"][c["versus"]][c["metric"]]
        assert c["difference"] == pytest.approx(want, abs=1e-9)
        lo, hi = c["ci"]
        assert lo <= c["difference"] <= hi
