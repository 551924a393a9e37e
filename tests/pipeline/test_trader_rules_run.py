"""The trader's rules through a whole run: summary.json, per-path table, report and terminal."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import run_stress, write
from support.bad_input import mutated

import stress

RULES = (
    ("positions.0.stop_loss", {"margin_fraction": 0.5}),
    (
        "positions.0.reduce",
        [{"move": 0.02, "close": 0.25}, {"move": 0.02, "close": 0.5, "direction": "favour"}],
    ),
    ("positions.1.top_up", {"at_margin_ratio": 0.6, "max_times": 2}),
    ("account.hard_stop", {"drawdown": 0.2}),
    ("simulation.paths", 1024),
    ("simulation.horizon_days", 3),
    ("model.assets.BTC.vol", 1.2),
    ("model.assets.ETH.vol", 1.6),
)
NEVER = (
    # rules that cannot fire on these paths: a stop at a loss of 50 times the margin, a ladder
    # rung at a 99 % fall of a long (a top-up fires at the latest when its bucket breaches and a
    # hard stop when a gap takes the equity to its level, so neither is inert)
    ("positions.0.stop_loss", {"margin_fraction": 50.0}),
    ("positions.0.reduce", [{"move": 0.99, "close": 0.5}]),
)
BARE = (
    ("simulation.paths", 1024),
    ("simulation.horizon_days", 3),
    ("model.assets.BTC.vol", 1.2),
    ("model.assets.ETH.vol", 1.6),
)


@pytest.fixture(scope="module")
def ruled():
    return stress.run(mutated(*RULES))


def test_every_rule_fires_and_is_reported_per_mode(ruled):
    for mode, m in ruled.to_dict()["portfolios"][0]["modes"].items():
        r = m["rules"]
        assert r["paths"] == 1024
        for name in ("stop_loss", "reduce", "hard_stop"):
            assert 0 < r[name]["p_fired"] < 1, (mode, name, r[name])
        if mode == "cross":  # a top-up acts on isolated buckets only
            assert r["top_up"]["p_fired"] == 0
        else:
            assert r["top_up"]["p_fired"] > 0
            assert r["top_up"]["amount_mean"] > 0
        # what the rules saved is the paired difference of the book with and without them
        assert r["saved"]["expected_loss"] == pytest.approx(
            r["without_rules"]["expected_loss"] - m["expected_loss"], rel=1e-9, abs=1e-9
        )
        assert r["saved"]["p_liquidation"] == pytest.approx(
            r["without_rules"]["p_liquidation"] - m["p_liquidation"], abs=1e-12
        )


def test_the_book_without_rules_is_the_plain_run(ruled):
    bare = stress.run(mutated(*BARE))
    for k, m in enumerate(bare.metrics):
        r = ruled.metrics[k]["rules"]["without_rules"]
        assert r["p_liquidation"] == m["p_liquidation"]
        assert r["expected_loss"] == pytest.approx(m["expected_loss"], rel=1e-12)
        assert r["es_99"] == pytest.approx(m["es_99"], rel=1e-12)
    np.testing.assert_array_equal(ruled.results.unruled_equity, bare.results.final_equity)


def test_rules_that_never_fire_give_the_plain_numbers_bit_for_bit():
    bare = stress.run(mutated(*BARE))
    inert = stress.run(mutated(*BARE, *NEVER))
    for f in ("final_equity", "first_liq_step", "bad_debt", "fees_paid", "pos_liquidated"):
        np.testing.assert_array_equal(getattr(inert.results, f), getattr(bare.results, f))
    events = inert.results.rule_events
    assert events.stops.sum() == events.reduces.sum() == events.top_ups.sum() == 0
    assert (events.hard_stop_step < 0).all()
    for m_bare, m_inert in zip(bare.metrics, inert.metrics, strict=True):
        assert {k: v for k, v in m_inert.items() if k != "rules"} == m_bare


def test_per_path_columns_say_which_rule_fired_and_when(ruled):
    df = ruled.per_path()
    for name in ("stops", "reduces", "top_ups", "top_up_amount", "final_equity_without_rules"):
        assert name in df.columns
    iso = df[df["mode"] == "isolated"]
    fired = iso["stop_hours"].notna()
    assert (iso.loc[fired, "stops"] >= 1).all() and (iso.loc[~fired, "stops"] == 0).all()
    assert iso["stop_hours"].max() <= 3 * 24
    # the report's share of paths with a stop is the table's
    p_stop = ruled.to_dict()["portfolios"][0]["modes"]["isolated"]["rules"]["stop_loss"]["p_fired"]
    assert fired.mean() == pytest.approx(p_stop)


def test_the_cli_prints_and_reports_the_rules(tmp_path):
    cfg = write(tmp_path, json.dumps(mutated(*RULES)), "rules.json")
    out = tmp_path / "out"
    done = run_stress("run", str(cfg), "--out", str(out), "--paths", "256", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "the trader's rules" in done.stdout
    assert "hard stop fired" in done.stdout
    page = (out / "report.html").read_text()
    assert 'class="numbers rule-events"' in page
    assert page.count('data-rule="hard_stop"') == 3  # one row per mode


def test_rules_run_on_a_venue_that_steps_down_tiers():
    # Bybit closes a breached position down its tiers; with the rules on the same book the run
    # reports both the venue's partial closes and the rules' events, and rules that never fire
    # leave the venue's numbers as they are
    big = (
        ("exchange", {"preset": "bybit"}),
        ("positions.0.notional", 3_000_000),
        ("positions.1.notional", 3_000_000),
        ("positions.1.margin", 300_000),
        ("account.wallet", 700_000),
    )
    bare = stress.run(mutated(*BARE, *big))
    inert = stress.run(mutated(*BARE, *big, ("positions.0.stop_loss", {"margin_fraction": 50.0})))
    assert bare.results.partial_closes.sum() > 0
    for f in ("final_equity", "first_liq_step", "partial_closes", "partial_notional"):
        np.testing.assert_array_equal(getattr(inert.results, f), getattr(bare.results, f))
    ruled = stress.run(mutated(*BARE, *big, ("account.hard_stop", {"drawdown": 0.1})))
    for m in ruled.to_dict()["portfolios"][0]["modes"].values():
        assert "p_partial_close" in m and m["rules"]["hard_stop"]["p_fired"] > 0
