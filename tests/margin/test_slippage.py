"""Slippage on thin books (stress.margin.slippage), the daily vol it scales with
(stress.paths.daily_vol), the funding cap and a scenario's liquidity multiplier."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.factories import two_asset_config

import stress
from stress.analysis.metrics import paired_difference
from stress.config.schema import Scenario
from stress.margin.engine import mark_chunk
from stress.margin.funding import market_rules, scenario_rules
from stress.margin.slippage import Liquidity, impact, impact_nb, slippage_cost
from stress.paths import ModelSpec, TimeGrid
from stress.paths.bootstrap import BootstrapSpec
from stress.paths.daily_vol import daily_vol
from stress.paths.replay import ReplaySpec
from stress.pipeline.prepare import prepare

# --- the law --------------------------------------------------------------------------------


def book(depth=1e6, spread_bps=0.0, k=1.0, sigma=0.05) -> Liquidity:
    one = np.ones(1)
    return Liquidity(
        np.ones(1, dtype=np.bool_), one * spread_bps / 2e4, one * k, one * sigma, one * depth
    )


def test_impact_is_half_the_spread_plus_the_square_root_law():
    # 10 bp spread: 5 bp; k sigma sqrt(N / depth) = 1.5 x 0.04 x sqrt(250,000 / 1,000,000) = 0.03
    liq = book(spread_bps=10.0, k=1.5, sigma=0.04)
    assert impact_nb(250_000.0, 0, liq) == pytest.approx(0.0005 + 0.03, rel=1e-15)
    assert impact(np.array([250_000.0]), np.array([0]), liq)[0] == impact_nb(250_000.0, 0, liq)
    assert slippage_cost(250_000.0, 0, liq) == pytest.approx(0.0305 * 250_000.0, rel=1e-15)
    # a close of 100 depths at k sigma = 0.2 would be 200 % away: capped at the whole price
    assert impact_nb(1e8, 0, book(sigma=0.2)) == 1.0


def test_a_market_without_a_book_fills_at_the_mark():
    liq = book()._replace(liquid=np.zeros(1, dtype=np.bool_))
    assert slippage_cost(np.array([1e6]), np.array([0]), liq)[0] == 0.0


@given(st.floats(1.0, 1e9), st.floats(1.0, 1e9), st.floats(1e3, 1e9), st.floats(1e3, 1e9))
def test_impact_grows_with_size_and_with_thinner_books(n1, n2, d1, d2):
    small, big = sorted((n1, n2))
    thin, deep = sorted((d1, d2))
    assert impact_nb(small, 0, book(depth=deep)) <= impact_nb(big, 0, book(depth=deep))
    assert impact_nb(small, 0, book(depth=deep)) <= impact_nb(small, 0, book(depth=thin))


# --- daily vol from the path model --------------------------------------------------------------

GRID = TimeGrid.from_days(2.0, 24)


def spec(kind="gbm", **fields) -> ModelSpec:
    base = dict(
        kind=kind,
        s0=np.array([100.0, 10.0]),
        vol=np.array([0.73, 1.46]),
        drift=np.zeros(2),
        corr=np.eye(2),
    )
    base.update(fields)
    return ModelSpec(**base)


def test_parametric_daily_vol_is_the_annual_vol_over_root_365():
    np.testing.assert_allclose(daily_vol(spec(), GRID), [0.73, 1.46] / np.sqrt(365.0), rtol=1e-15)
    # merton: the jumps' variance (intensity x (mean^2 + std^2) a year) is part of a day's
    jumps = spec("merton", jump_intensity=10.0, jump_mean=-0.05, jump_std=0.05)
    want = np.sqrt((np.array([0.73, 1.46]) ** 2 + 10.0 * 0.005) / 365.0)
    np.testing.assert_allclose(daily_vol(jumps, GRID), want, rtol=1e-15)


def test_bootstrap_daily_vol_scales_the_bar_returns_to_a_day():
    rng = np.random.default_rng(0)
    returns = rng.normal(0.0, [0.01, 0.02], size=(5_000, 2))
    want = returns.std(axis=0, ddof=1) * math.sqrt(24.0)  # hourly bars
    for per_step, per_bar, grid in [(1, 1, GRID), (4, 1, TimeGrid.from_days(2.0, 6))]:
        source = BootstrapSpec(returns, 24.0, bars_per_step=per_step, steps_per_bar=per_bar)
        np.testing.assert_allclose(daily_vol(spec("bootstrap", source=source), grid), want)
    # a bar of 2 steps (30-minute steps on hourly bars)
    source = BootstrapSpec(returns, 24.0, bars_per_step=1, steps_per_bar=2)
    got = daily_vol(spec("bootstrap", source=source), TimeGrid.from_days(2.0, 48))
    np.testing.assert_allclose(got, want)


def test_replay_daily_vol_reads_the_closes():
    rng = np.random.default_rng(1)
    closes = np.exp(np.cumsum(rng.normal(0.0, [0.01, 0.03], size=(3_000, 2)), axis=0))
    source = ReplaySpec(closes, np.arange(3_000), np.arange(10), bars_per_step=1, n_steps=48)
    want = np.diff(np.log(closes), axis=0).std(axis=0, ddof=1) * math.sqrt(24.0)
    np.testing.assert_allclose(daily_vol(spec("replay", source=source), GRID), want)


# --- rules from the config ----------------------------------------------------------------------


def with_books(cfg: dict, btc: dict | None = None, default: dict | None = None) -> dict:
    cfg = copy.deepcopy(cfg)
    if btc is not None:
        cfg["exchange"]["markets"]["BTC"]["liquidity"] = btc
    if default is not None:
        cfg["exchange"]["default_market"]["liquidity"] = default
    return cfg


def test_books_per_market_with_the_default_markets_for_the_rest():
    cfg = with_books(two_asset_config(), {"depth_usd": 5e6, "spread_bps": 2.0}, {"depth_usd": 1e5})
    plan = prepare(stress.load_config(cfg))
    liq = plan.rules.liquidity
    np.testing.assert_array_equal(liq.depth, [5e6, 1e5])
    np.testing.assert_array_equal(liq.half_spread, [1e-4, 0.0])
    np.testing.assert_allclose(liq.sigma_daily, np.array([0.7, 0.9]) / np.sqrt(365.0))
    assert not plan.rules.plain
    with pytest.raises(ValueError, match="ModelSpec"):
        market_rules(plan.config, plan.grid)


def test_zero_impact_reproduces_todays_run_bit_for_bit():
    cfg = two_asset_config()
    zero = with_books(cfg, {"depth_usd": 1e3, "impact_k": 0.0}, {"depth_usd": 1.0, "impact_k": 0.0})
    assert not prepare(stress.load_config(zero)).rules.plain
    a, b = stress.run(cfg, paths=1_024), stress.run(zero, paths=1_024)
    for name in ("final_equity", "first_liq_step", "bad_debt", "fees_paid", "pos_liquidated"):
        np.testing.assert_array_equal(getattr(a.results, name), getattr(b.results, name))
    assert a.metrics == b.metrics


def test_funding_cap_clamps_the_rate_and_the_spike():
    cfg = two_asset_config()
    cfg["exchange"]["funding"] = {"rate": 0.002, "interval_hours": 8.0, "cap": 0.0005}
    cfg["scenarios"] = [
        {"name": "up", "funding_spike": {"rate": 0.03, "from_hour": 0.0, "hours": 24.0}},
        {"name": "down", "funding_spike": {"rate": -0.03, "from_hour": 0.0, "hours": 24.0}},
    ]
    plan = prepare(stress.load_config(cfg))
    paid = plan.rules.funding[plan.rules.funding != 0.0]
    np.testing.assert_array_equal(paid, 0.0005)
    up, down = (
        scenario_rules(plan.config, sc, plan.rules, plan.grid).funding
        for sc in plan.config.scenarios
    )
    assert set(up[up != 0.0]) == {0.0005}
    assert set(down[down != 0.0]) == {-0.0005, 0.0005}  # the spike's day, then the base rate
    # a rate inside the cap is the configured one, bit for bit
    cfg["exchange"]["funding"] = {"rate": 0.0001, "interval_hours": 8.0, "cap": 0.0005}
    inside = prepare(stress.load_config(cfg)).rules.funding
    cfg["exchange"]["funding"] = {"rate": 0.0001, "interval_hours": 8.0}
    np.testing.assert_array_equal(inside, prepare(stress.load_config(cfg)).rules.funding)


def test_liquidity_multiplier_scales_every_depth():
    cfg = with_books(two_asset_config(), {"depth_usd": 5e6}, {"depth_usd": 1e5})
    plan = prepare(stress.load_config(cfg))
    crash = Scenario(name="crash", liquidity_multiplier=0.02)
    rules = scenario_rules(plan.config, crash, plan.rules, plan.grid)
    np.testing.assert_array_equal(rules.liquidity.depth, [5e6 * 0.02, 1e5 * 0.02])
    np.testing.assert_array_equal(rules.funding, plan.rules.funding)
    # a vol multiplier's model gives the books its daily vol
    calm = Scenario(name="calm", vol_multiplier=0.5)
    spec = stress.paths.scenarios.scenario_spec(plan.spec, calm)
    rules = scenario_rules(plan.config, calm, plan.rules, plan.grid, spec)
    np.testing.assert_allclose(rules.liquidity.sigma_daily, plan.rules.liquidity.sigma_daily / 2)


def test_a_crashed_book_never_lowers_the_loss_and_a_whole_one_changes_nothing():
    cfg = with_books(two_asset_config(), {"depth_usd": 2e6, "spread_bps": 2.0}, {"depth_usd": 5e5})
    cfg["scenarios"] = [
        {"name": "crash", "liquidity_multiplier": 0.02},
        {"name": "whole", "liquidity_multiplier": 1.0},
    ]
    res = stress.run(cfg, paths=1_024)
    crash, whole = res.scenarios
    base = res.results
    np.testing.assert_array_equal(whole.results.final_equity, base.final_equity)
    np.testing.assert_array_equal(whole.results.bad_debt, base.bad_debt)
    assert np.all(crash.results.final_equity <= base.final_equity)
    assert np.all(crash.results.bad_debt >= base.bad_debt)
    assert crash.results.bad_debt.sum() > base.bad_debt.sum()


# --- loss never falls with thinner books or bigger closes ---------------------------------------

PAIR_PATHS = stress.generate_paths(two_asset_config(), paths=256, seed=3)


def _one_position(notional: float, depth: float, process: str, scale: float = 1.0) -> dict:
    cfg = two_asset_config(
        positions=[
            {
                "id": "p",
                "asset": "ETH",
                "side": "long",
                "notional": notional * scale,
                "leverage": 25.0,
                "margin_mode": "isolated",
            }
        ],
        account={"wallet": notional * scale / 10.0},
        modes=["isolated", "cross"],
    )
    cfg["exchange"]["default_market"]["liquidity"] = {"depth_usd": depth, "spread_bps": 4.0}
    if process != "full_close":
        cfg["exchange"]["liquidation"] = {
            "process": process,
            "fill_maintenance_multiple": 3.0,
        }
    return cfg


def _loss(cfg: dict) -> np.ndarray:
    plan = prepare(stress.load_config(cfg))
    out = mark_chunk(plan.layout, plan.rules, PAIR_PATHS)
    equity = np.add.reduceat(out.value, plan.layout.book_first_bucket, axis=1)
    return plan.layout.book_initial_equity - (equity + plan.layout.book_free)


@settings(max_examples=25, deadline=None)
@given(
    st.floats(1e3, 5e4),
    st.floats(1e3, 1e8),
    st.floats(1e3, 1e8),
    st.floats(1.0, 20.0),
    st.sampled_from(["full_close", "fillable_price"]),
)
def test_thinner_books_and_bigger_closes_never_lower_the_loss(notional, d1, d2, scale, process):
    thin, deep = sorted((d1, d2))
    loss_deep = _loss(_one_position(notional, deep, process))
    assert np.all(_loss(_one_position(notional, thin, process)) >= loss_deep)
    # the same book `scale` times bigger: its loss per unit of size is never smaller (tiers are
    # flat here, so only the impact grows with the size)
    bigger = _loss(_one_position(notional, deep, process, scale)) / scale
    assert np.all(bigger >= loss_deep - 1e-12 * np.abs(loss_deep) - 1e-9)


# --- the same 20x position on BTC and on a thin alt ---------------------------------------------


def thin_alt_config(books: bool = True) -> dict:
    """The same 20x long of 100,000 (isolated, 5,000 of margin) on BTC and on an alt: the same
    tier (4 %), the alt twice as volatile with a book 250 times thinner and a wider spread."""
    tiers = [{"max_notional": 1e7, "max_leverage": 20.0, "mmr": 0.04}]
    btc = {"tiers": tiers}
    alt = {"tiers": tiers}
    if books:
        btc["liquidity"] = {"depth_usd": 5e7, "spread_bps": 1.0}
        alt["liquidity"] = {"depth_usd": 2e5, "spread_bps": 20.0}
    position = {"side": "long", "notional": 100_000.0, "leverage": 20.0, "margin_mode": "isolated"}
    return {
        "name": "thin",
        "seed": 7,
        "simulation": {"paths": 4_000, "horizon_days": 7.0, "steps_per_day": 24},
        "model": {
            "type": "gbm",
            "assets": {"BTC": {"price": 60_000.0, "vol": 0.6}, "ALT": {"price": 1.0, "vol": 1.2}},
            "correlation": [[1.0, 0.5], [0.5, 1.0]],
        },
        "exchange": {"liquidation_fee": 0.005, "markets": {"BTC": btc, "ALT": alt}},
        "portfolios": [
            {
                "name": a.lower(),
                "account": {"wallet": 5_000.0},
                "positions": [{"id": a.lower(), "asset": a, **position}],
            }
            for a in ("BTC", "ALT")
        ],
        "modes": ["isolated"],
    }


def _es99_se(loss: np.ndarray) -> float:
    """Standard error of the mean of the worst 1 % (the tail's spread over its size)."""
    tail = np.sort(loss)[-math.ceil(0.01 * loss.size) :]
    return float(tail.std(ddof=1) / math.sqrt(tail.size))


def test_the_same_20x_position_is_worse_on_a_thin_alt_than_on_btc():
    res = stress.run(thin_alt_config())
    (btc, alt), loss = res.metrics, res.results.loss(res.layout)
    se = _es99_se(loss[:, 0]) + _es99_se(loss[:, 1])
    assert alt["es_99"] - btc["es_99"] > 4 * se
    bad = paired_difference(res.results.bad_debt[:, 1], res.results.bad_debt[:, 0])
    assert bad["mean"] > 4 * bad["se"]
    # on the same paths without books, the alt's book is what turns its closes into bad debt
    flat = stress.run(thin_alt_config(books=False))
    gain = paired_difference(res.results.bad_debt[:, 1], flat.results.bad_debt[:, 1])
    assert gain["mean"] > 4 * gain["se"]
    assert np.all(res.results.bad_debt >= flat.results.bad_debt)
    assert np.all(loss >= flat.results.loss(flat.layout))
